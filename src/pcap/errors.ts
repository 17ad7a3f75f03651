/**
 * The one error the capture-file reader throws: the file is not a pcap/pcapng file this reader
 * understands, or it is malformed or truncated. `offset` is the byte offset in the file where the
 * problem was found (the start of the offending record or block, or of the field that is wrong);
 * the message is one line.
 */
export class PcapError extends Error {
  override readonly name = 'PcapError';
  constructor(
    message: string,
    /** Byte offset in the capture file where the problem was found. */
    readonly offset: number,
  ) {
    super(message);
  }
}
