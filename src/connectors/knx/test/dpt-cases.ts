// Group values of each supported DPT for the tests through knxd: the payload a device answers and
// the value upstream (xknx) reports for it.

// Payloads worked out by hand from the KNX datapoint definitions, and what xknx decodes them to.
export const TYPES: Array<{ key: string; type: string; ga: string; payload: string; value: unknown }> = [
  { key: "switch", type: "switch", ga: "2/1/1", payload: "small:1", value: true },
  { key: "off", type: "bool", ga: "2/1/2", payload: "small:0", value: false },
  { key: "scaling", type: "percent", ga: "2/1/3", payload: "80", value: 50 }, // 128/255·100 rounded
  { key: "percentU8", type: "percentU8", ga: "2/1/4", payload: "80", value: 128 },
  { key: "angle", type: "angle", ga: "2/1/5", payload: "ff", value: 360 },
  { key: "signed", type: "1byte_signed", ga: "2/1/6", payload: "f6", value: -10 },
  { key: "brightness", type: "brightness", ga: "2/1/7", payload: "0400", value: 1024 },
  { key: "temperature", type: "temperature", ga: "2/1/8", payload: "0c33", value: 21.5 }, // exponent 1, significand 1075
  { key: "frost", type: "temperature", ga: "2/1/9", payload: "860c", value: -5 }, // sign, significand -500
  { key: "counter", type: "4byte_unsigned", ga: "2/1/10", payload: "000186a0", value: 100000 },
  { key: "energy", type: "active_energy", ga: "2/1/11", payload: "fffffc18", value: -1000 },
  { key: "power", type: "power", ga: "2/1/12", payload: "3f8ccccd", value: Math.fround(1.1) }, // float32 widened: 1.100000023841858
  { key: "text", type: "string", ga: "2/1/13", payload: "48656c6c6f000000000000000000", value: "Hello" },
  { key: "dptNumber", type: "9.001", ga: "2/1/14", payload: "0c33", value: 21.5 },
  { key: "scene", type: "scene_number", ga: "2/1/15", payload: "05", value: 6 },
];
