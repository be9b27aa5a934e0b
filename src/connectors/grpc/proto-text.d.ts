// messages.proto is imported as text (`with { type: "text" }`): Bun embeds it in the binary.
declare module "*.proto" {
  const text: string;
  export default text;
}
