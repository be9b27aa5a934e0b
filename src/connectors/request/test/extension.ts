// A custom Request uplink converter as a user would write one (<config>/extensions/request/): the
// sample's get_info byte fields (fromByte/toByte or byteAddress with fromBit/toBit, signed,
// multiplier) over the raw answer.

export class CustomRequestUplinkConverter {
  constructor(private readonly config: { deviceNameJsonExpression: string; deviceTypeJsonExpression?: string; extensionConfig: Array<Record<string, any>> }) {}

  convert(_config: unknown, data: Uint8Array) {
    const bytes = Buffer.from(data);
    const values: Record<string, number> = {};
    for (const f of this.config.extensionConfig) {
      if (f.byteAddress !== undefined) {
        const byte = bytes[f.byteAddress] ?? 0;
        values[f.key] = (byte >> f.fromBit) & ((1 << (f.toBit - f.fromBit)) - 1);
        continue;
      }
      const slice = bytes.subarray(f.fromByte, f.toByte);
      const n = f.signed ? slice.readIntBE(0, slice.length) : slice.readUIntBE(0, slice.length);
      values[f.key] = n * (f.multiplier ?? 1);
    }
    return { deviceName: this.config.deviceNameJsonExpression, deviceType: this.config.deviceTypeJsonExpression, telemetry: values };
  }
}
