// What every MQTT uplink converter offers the connector.
import type { ConvertedData } from "../../../core/model.ts";

/**
 * `convert` returns the data to send, or a short reason text when the message is dropped (the
 * connector logs reasons rate-limited per topic). Built-in converters are synchronous; a custom
 * converter may return a promise.
 */
export interface UplinkConverter {
  convert(topic: string, payload: Buffer, receivedTs: number): ConvertedData[] | string | Promise<ConvertedData[] | string>;
}

export { ConverterConfigError } from "../../../common/converters/custom.ts";
