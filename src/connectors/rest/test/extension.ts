// A custom REST uplink converter as a user would write one (<config>/extensions/rest/): the
// sample's /anon2 byte slicing, reading `extensionConfig` (key, fromByte, toByte, byteorder,
// signed, multiplier) over the raw request body.

export class CustomRestUplinkConverter {
  constructor(private readonly config: { deviceInfo: { deviceNameExpression: string }; extensionConfig: Record<string, any> }) {}

  convert(_config: unknown, _data: unknown, request: { raw: Buffer }) {
    const c = this.config.extensionConfig;
    const bytes = request.raw.subarray(c.fromByte, c.toByte);
    const n = c.byteorder === "little" ? Buffer.from(bytes).reverse() : Buffer.from(bytes);
    const value = (c.signed ? n.readIntBE(0, n.length) : n.readUIntBE(0, n.length)) * c.multiplier;
    return { deviceName: this.config.deviceInfo.deviceNameExpression, deviceType: "default", telemetry: [{ [c.key]: value }] };
  }
}
