// Converters of the custom serial connector example (upstream's custom_serial_uplink_converter.py and
// custom_serial_downlink_converter.py, ported). The sample config names them by class:
// "converter": "SerialUplinkConverter", "downlink_converter": "SerialDownlinkConverter".

type KeyConfig = { key: string; type?: string; fromByte?: number; toByte?: number; untilDelimiter?: string; fromDelimiter?: string };

/** A line's slice as upstream cuts it: untilDelimiter / fromDelimiter first, then toByte (-1 = to the end), then fromByte. */
function slice(line: string, c: KeyConfig): string {
  let s = line;
  if (c.untilDelimiter !== undefined) s = s.split(c.untilDelimiter)[0] ?? "";
  if (c.fromDelimiter !== undefined) s = s.split(c.fromDelimiter)[1] ?? "";
  if (c.toByte !== undefined && c.toByte !== -1) s = s.slice(0, c.toByte);
  if (c.fromByte !== undefined) s = s.slice(c.fromByte);
  return s.trim();
}

/** The value in the key's `type`; undefined when the text is not one (upstream sent every value as text). */
function typed(text: string, type = "string"): unknown {
  if (text === "") return undefined;
  if (type === "float" || type === "double") return /^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(text) ? Number(text) : undefined;
  if (type === "int" || type === "integer") return /^[-+]?\d+$/.test(text) ? Number(text) : undefined;
  if (type === "bool" || type === "boolean") return /^(true|1|on)$/i.test(text) ? true : /^(false|0|off)$/i.test(text) ? false : undefined;
  return text;
}

export class SerialUplinkConverter {
  constructor(private readonly device: { name?: string; deviceName?: string; type?: string; deviceType?: string; attributes?: KeyConfig[]; telemetry?: KeyConfig[] }) {}

  /** One line from the device (without its delimiter) → the device's attributes and telemetry. */
  convert(line: string) {
    const pick = (keys: KeyConfig[] = []) =>
      keys.flatMap((k) => {
        const v = typed(slice(line, k), k.type);
        return v === undefined ? [] : [{ [k.key]: v }];
      });
    return {
      deviceName: this.device.name ?? this.device.deviceName ?? "SerialDevice",
      deviceType: this.device.type ?? this.device.deviceType ?? "default",
      attributes: pick(this.device.attributes),
      telemetry: pick(this.device.telemetry),
    };
  }

  /** An RPC response → `{ result }` (upstream: the uplink converter with the RPC's config). */
  convertResponse(rpc: { responseType?: string; responseFromByte?: number; responseToByte?: number; responseUntilDelimiter?: string }, text: string) {
    const s = slice(text, { key: "result", fromByte: rpc.responseFromByte, toByte: rpc.responseToByte, untilDelimiter: rpc.responseUntilDelimiter });
    return { result: typed(s, rpc.responseType) ?? s };
  }
}

export class SerialDownlinkConverter {
  /** Attribute update: `stringToDevice` with `${attribute}` replaced. */
  attributeText(template: string, data: Record<string, unknown>): string {
    return template.replace(/\$\{([^}]+)\}/g, (_, k: string) => String(data[k] ?? ""));
  }

  /** RPC: the params as text (in the RPC's `type`), one line. */
  rpcText(rpc: { type?: string }, params: unknown): string {
    const v = rpc.type === "int" ? Math.trunc(Number(params)) : rpc.type === "float" ? Number(params) : typeof params === "string" ? params : JSON.stringify(params);
    return `${v}\n`;
  }
}
