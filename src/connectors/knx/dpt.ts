// KNX datapoint types: the value-type names upstream's config uses (xknx's `value_type` names, e.g.
// "temperature", "percentU8", "string") mapped to their DPT numbers, and the codecs between bus
// payloads and JSON values. Written here rather than taken from knxultimate's dptlib so that values
// render as upstream renders them (xknx): DPT 1 as booleans, 5.001/5.003 scaled and rounded to
// integers, DPT 9 as significand·2^exponent/100 without further rounding, DPT 14 as the float32
// widened, DPT 16 without its NUL padding.

export interface Dpt {
  main: number;
  sub?: number;
}

/** A payload as it goes on the bus: bytes, or a value of at most 6 bits carried in the APCI byte. */
export interface KnxPayload {
  data: Buffer;
  /** Bits of a short value (DPT 1: 1); absent for byte payloads. */
  bits?: number;
}

// xknx value-type name → [main, sub]. Grouped by main number; only the types whose payload shape
// is listed in CODECS below.
const NAMES: Record<string, [number, number?]> = {
  // DPT 1: one bit
  binary: [1], switch: [1, 1], bool: [1, 2], enable: [1, 3], ramp: [1, 4], alarm: [1, 5], binary_value: [1, 6], step: [1, 7],
  up_down: [1, 8], open_close: [1, 9], start: [1, 10], state: [1, 11], invert: [1, 12], dim_send_style: [1, 13], input_source: [1, 14],
  reset: [1, 15], ack: [1, 16], trigger: [1, 17], occupancy: [1, 18], window_door: [1, 19], logical_function: [1, 21], scene_ab: [1, 22],
  shutter_blinds_mode: [1, 23], day_night: [1, 24], heat_cool: [1, 100],
  // DPT 5: one byte unsigned
  "1byte_unsigned": [5], percent: [5, 1], angle: [5, 3], percentU8: [5, 4], decimal_factor: [5, 5], tariff: [5, 6], pulse: [5, 10],
  // DPT 6: one byte signed
  "1byte_signed": [6], percentV8: [6, 1], counter_pulses: [6, 10],
  // DPT 7: two bytes unsigned
  "2byte_unsigned": [7], pulse_2byte: [7, 1], time_period_msec: [7, 2], time_period_10msec: [7, 3], time_period_100msec: [7, 4],
  time_period_sec: [7, 5], time_period_min: [7, 6], time_period_hrs: [7, 7], length_mm: [7, 11], current: [7, 12], brightness: [7, 13],
  color_temperature: [7, 600],
  // DPT 8: two bytes signed
  "2byte_signed": [8], pulse_2byte_signed: [8, 1], delta_time_ms: [8, 2], delta_time_10ms: [8, 3], delta_time_100ms: [8, 4],
  delta_time_sec: [8, 5], delta_time_min: [8, 6], delta_time_hrs: [8, 7], percentV16: [8, 10], rotation_angle: [8, 11], length_m: [8, 12],
  // DPT 9: two-byte float
  "2byte_float": [9], temperature: [9, 1], temperature_difference_2byte: [9, 2], temperature_a: [9, 3], illuminance: [9, 4],
  wind_speed_ms: [9, 5], pressure_2byte: [9, 6], humidity: [9, 7], ppm: [9, 8], air_flow: [9, 9], time_1: [9, 10], time_2: [9, 11],
  voltage: [9, 20], curr: [9, 21], power_density: [9, 22], kelvin_per_percent: [9, 23], power_2byte: [9, 24], volume_flow: [9, 25],
  rain_amount: [9, 26], temperature_f: [9, 27], wind_speed_kmh: [9, 28], absolute_humidity: [9, 29], concentration_ugm3: [9, 30],
  // DPT 12: four bytes unsigned
  "4byte_unsigned": [12], pulse_4_ucount: [12, 1], long_time_period_sec: [12, 100], long_time_period_min: [12, 101],
  long_time_period_hrs: [12, 102], volume_liquid_litre: [12, 1200], volume_m3: [12, 1201],
  // DPT 13: four bytes signed
  "4byte_signed": [13], pulse_4byte: [13, 1], flow_rate_m3h: [13, 2], active_energy: [13, 10], apparant_energy: [13, 11],
  reactive_energy: [13, 12], active_energy_kwh: [13, 13], apparant_energy_kvah: [13, 14], reactive_energy_kvarh: [13, 15],
  active_energy_mwh: [13, 16], long_delta_timesec: [13, 100],
  // DPT 14: four-byte IEEE float
  "4byte_float": [14], acceleration: [14, 0], acceleration_angular: [14, 1], activation_energy: [14, 2], activity: [14, 3], mol: [14, 4],
  amplitude: [14, 5], angle_rad: [14, 6], angle_deg: [14, 7], angular_momentum: [14, 8], angular_velocity: [14, 9], area: [14, 10],
  capacitance: [14, 11], charge_density_surface: [14, 12], charge_density_volume: [14, 13], compressibility: [14, 14],
  conductance: [14, 15], electrical_conductivity: [14, 16], density: [14, 17], electric_charge: [14, 18], electric_current: [14, 19],
  electric_current_density: [14, 20], electric_dipole_moment: [14, 21], electric_displacement: [14, 22],
  electric_field_strength: [14, 23], electric_flux: [14, 24], electric_flux_density: [14, 25], electric_polarization: [14, 26],
  electric_potential: [14, 27], electric_potential_difference: [14, 28], electromagnetic_moment: [14, 29],
  electromotive_force: [14, 30], energy: [14, 31], force: [14, 32], frequency: [14, 33], angular_frequency: [14, 34],
  heatcapacity: [14, 35], heatflowrate: [14, 36], heat_quantity: [14, 37], impedance: [14, 38], length: [14, 39],
  light_quantity: [14, 40], luminance: [14, 41], luminous_flux: [14, 42], luminous_intensity: [14, 43],
  magnetic_field_strength: [14, 44], magnetic_flux: [14, 45], magnetic_flux_density: [14, 46], magnetic_moment: [14, 47],
  magnetic_polarization: [14, 48], magnetization: [14, 49], magnetomotive_force: [14, 50], mass: [14, 51], mass_flux: [14, 52],
  momentum: [14, 53], phaseanglerad: [14, 54], phaseangledeg: [14, 55], power: [14, 56], powerfactor: [14, 57], pressure: [14, 58],
  reactance: [14, 59], resistance: [14, 60], resistivity: [14, 61], self_inductance: [14, 62], solid_angle: [14, 63],
  sound_intensity: [14, 64], speed: [14, 65], stress: [14, 66], surface_tension: [14, 67], common_temperature: [14, 68],
  absolute_temperature: [14, 69], temperature_difference: [14, 70], thermal_capacity: [14, 71], thermal_conductivity: [14, 72],
  thermoelectric_power: [14, 73], time_seconds: [14, 74], torque: [14, 75], volume: [14, 76], volume_flux: [14, 77], weight: [14, 78],
  work: [14, 79], apparent_power: [14, 80],
  // DPT 16: 14-character text
  string: [16, 0], latin_1: [16, 1],
  // DPT 17: scene number
  scene_number: [17, 1],
};

/**
 * Misspellings found in upstream's own files, read as what they plainly mean (upstream's knx.json
 * writes "precent_U8", which xknx does not know, so its attribute update can never be written).
 */
const ALIASES: Record<string, string> = { precent_U8: "percentU8" };

/** The intended name when `name` is one of upstream's known misspellings. */
export function misspelledDpt(name: string): string | undefined {
  return ALIASES[name];
}

/** The names `type`/`dataType` accept (for errors and editor hints). */
export const DPT_NAMES: readonly string[] = Object.keys(NAMES);

/** Upstream's `deviceProfileDataType: "none"`: the profile is a constant, nothing is read. */
export const NO_TYPE = "none";

/**
 * A type name (xknx value type, e.g. "temperature"), or a DPT number ("9.001", "DPT9.001", "9"),
 * to its DPT; a text saying what is accepted otherwise.
 */
export function parseDpt(name: string): Dpt | string {
  const named = NAMES[ALIASES[name] ?? name];
  if (named) return { main: named[0], sub: named[1] };
  const m = /^(?:dpt[-_ ]?)?(\d{1,3})(?:\.(\d{1,4}))?$/i.exec(name.trim());
  if (m && CODECS[Number(m[1])]) return { main: Number(m[1]), sub: m[2] === undefined ? undefined : Number(m[2]) };
  const near = DPT_NAMES.filter((n) => n.toLowerCase().includes(name.toLowerCase().replace(/[^a-z0-9]/g, "").slice(0, 4))).slice(0, 5);
  return `unknown KNX datapoint type "${name}": use an xknx value type name (e.g. ${near.length ? near.map((n) => `"${n}"`).join(", ") : '"temperature", "humidity", "percentU8", "switch", "string"'}) or a DPT number such as "9.001" (supported main numbers: ${Object.keys(CODECS).join(", ")})`;
}

export function dptText(d: Dpt): string {
  return d.sub === undefined ? `DPT ${d.main}` : `DPT ${d.main}.${String(d.sub).padStart(3, "0")}`;
}

interface Codec {
  decode(data: Buffer, d: Dpt): unknown;
  encode(value: unknown, d: Dpt): KnxPayload;
}

const need = (data: Buffer, n: number, d: Dpt) => {
  if (data.length !== n) throw new Error(`${dptText(d)} needs ${n} byte(s), the telegram carries ${data.length}`);
};

function toNumber(value: unknown, d: Dpt): number {
  const n = typeof value === "number" ? value : typeof value === "string" && value.trim() !== "" ? Number(value) : typeof value === "boolean" ? Number(value) : NaN;
  if (!Number.isFinite(n)) throw new Error(`${dptText(d)} needs a number, got ${JSON.stringify(value)}`);
  return n;
}

function inRange(n: number, min: number, max: number, d: Dpt): number {
  if (n < min || n > max) throw new Error(`${n} is outside ${dptText(d)}'s range ${min}..${max}`);
  return n;
}

function intCodec(bytes: 1 | 2 | 4, signed: boolean, resolution: (d: Dpt) => number = () => 1): Codec {
  const bits = bytes * 8;
  const min = signed ? -(2 ** (bits - 1)) : 0;
  const max = signed ? 2 ** (bits - 1) - 1 : 2 ** bits - 1;
  return {
    decode(data, d) {
      need(data, bytes, d);
      const raw = signed ? data.readIntBE(0, bytes) : data.readUIntBE(0, bytes);
      const r = resolution(d);
      return r === 1 ? raw : Math.round(raw * r * 1e6) / 1e6;
    },
    encode(value, d) {
      const raw = inRange(Math.round(toNumber(value, d) / resolution(d)), min, max, d);
      const data = Buffer.alloc(bytes);
      if (signed) data.writeIntBE(raw, 0, bytes);
      else data.writeUIntBE(raw, 0, bytes);
      return { data };
    },
  };
}

const TRUE_WORDS = new Set(["true", "1", "on", "yes"]);
const FALSE_WORDS = new Set(["false", "0", "off", "no"]);

const bitCodec: Codec = {
  decode(data, d) {
    need(data, 1, d);
    return (data[0]! & 1) === 1;
  },
  encode(value, d) {
    let bit: boolean | undefined;
    if (typeof value === "boolean") bit = value;
    else if (typeof value === "number" && (value === 0 || value === 1)) bit = value === 1;
    else if (typeof value === "string") bit = TRUE_WORDS.has(value.trim().toLowerCase()) ? true : FALSE_WORDS.has(value.trim().toLowerCase()) ? false : undefined;
    if (bit === undefined) throw new Error(`${dptText(d)} needs true or false, got ${JSON.stringify(value)}`);
    return { data: Buffer.from([bit ? 1 : 0]), bits: 1 };
  },
};

/** 5.001 (0..100 %) and 5.003 (0..360 °) are scaled from 0..255; the rest of DPT 5 is the byte. */
const SCALED_U8: Record<number, number> = { 1: 100, 3: 360 };
const u8 = intCodec(1, false);
const u8Codec: Codec = {
  decode(data, d) {
    const span = SCALED_U8[d.sub ?? -1];
    const raw = u8.decode(data, d) as number;
    return span ? Math.round((raw / 255) * span) : raw;
  },
  encode(value, d) {
    const span = SCALED_U8[d.sub ?? -1];
    if (!span) return u8.encode(value, d);
    return { data: Buffer.from([Math.round((inRange(toNumber(value, d), 0, span, d) / span) * 255)]) };
  },
};

const float16Codec: Codec = {
  decode(data, d) {
    need(data, 2, d);
    const word = data.readUInt16BE(0);
    const exponent = (word >> 11) & 0x0f;
    let significand = word & 0x7ff;
    if (word >> 15) significand -= 2048;
    return (significand * 2 ** exponent) / 100;
  },
  encode(value, d) {
    const v = inRange(toNumber(value, d), -671088.64, 670760.96, d);
    let significand = Math.round(v * 100);
    let exponent = 0;
    while (significand < -2048 || significand > 2047) {
      exponent++;
      significand = Math.round((v * 100) / 2 ** exponent);
    }
    const sign = significand < 0 ? 1 : 0;
    const word = (sign << 15) | (exponent << 11) | (significand & 0x7ff);
    const data = Buffer.alloc(2);
    data.writeUInt16BE(word, 0);
    return { data };
  },
};

const float32Codec: Codec = {
  decode(data, d) {
    need(data, 4, d);
    return data.readFloatBE(0);
  },
  encode(value, d) {
    const data = Buffer.alloc(4);
    data.writeFloatBE(toNumber(value, d), 0);
    return { data };
  },
};

const STRING_BYTES = 14;
const stringCodec: Codec = {
  decode(data, d) {
    if (data.length > STRING_BYTES) throw new Error(`${dptText(d)} carries at most ${STRING_BYTES} bytes, the telegram has ${data.length}`);
    const latin1 = d.sub === 1;
    let text = "";
    for (const b of data) if (b !== 0) text += !latin1 && b > 0x7f ? "\ufffd" : String.fromCharCode(b);
    return text;
  },
  encode(value, d) {
    const text = typeof value === "string" ? value : value === null || value === undefined ? "" : typeof value === "object" ? JSON.stringify(value) : String(value);
    if (text.length > STRING_BYTES) throw new Error(`${dptText(d)} holds at most ${STRING_BYTES} characters, "${text}" has ${text.length}`);
    const latin1 = d.sub === 1;
    const data = Buffer.alloc(STRING_BYTES);
    for (let i = 0; i < text.length; i++) {
      const c = text.charCodeAt(i);
      data[i] = c > (latin1 ? 0xff : 0x7f) ? 0x3f : c; // "?" for what the character set lacks, as xknx's errors="replace"
    }
    return { data };
  },
};

const sceneCodec: Codec = {
  decode(data, d) {
    need(data, 1, d);
    return (data[0]! & 0x3f) + 1;
  },
  encode(value, d) {
    return { data: Buffer.from([inRange(Math.round(toNumber(value, d)), 1, 64, d) - 1]) };
  },
};

/** Resolutions of the scaled integer subtypes (value = raw × resolution). */
const U16_RESOLUTION: Record<number, number> = { 3: 10, 4: 100 };
const S16_RESOLUTION: Record<number, number> = { 3: 10, 4: 100, 10: 0.01 };

const CODECS: Record<number, Codec> = {
  1: bitCodec,
  5: u8Codec,
  6: intCodec(1, true),
  7: intCodec(2, false, (d) => U16_RESOLUTION[d.sub ?? -1] ?? 1),
  8: intCodec(2, true, (d) => S16_RESOLUTION[d.sub ?? -1] ?? 1),
  9: float16Codec,
  12: intCodec(4, false),
  13: intCodec(4, true),
  14: float32Codec,
  16: stringCodec,
  17: sceneCodec,
};

function codecOf(d: Dpt): Codec {
  const c = CODECS[d.main];
  if (!c) throw new Error(`${dptText(d)} is not supported`);
  return c;
}

/** Bus payload → the JSON value upstream reports. Throws with the DPT named on a malformed payload. */
export function decodeDpt(d: Dpt, data: Buffer): unknown {
  return codecOf(d).decode(data, d);
}

/** A value (number, boolean, text; numeric text is accepted) → bus payload. Throws on a bad value. */
export function encodeDpt(d: Dpt, value: unknown): KnxPayload {
  return codecOf(d).encode(value, d);
}
