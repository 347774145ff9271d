"""A step that writes to its streams as byte-minded code does: through
``sys.stdout.buffer``, by ``sys.stdout.encoding``, and text that is not UTF-8."""

import sys

from asyncflow import FlowSpec, step


class BytesOutputFlow(FlowSpec):
    @step
    def start(self):
        out = sys.stdout
        self.streams = [out.encoding, sys.stderr.encoding, out.buffer.writable()]
        print("caf\u00e9")
        out.buffer.write("encoded \u00e9\n".encode(out.encoding))
        out.buffer.write(b"split \xc2")  # one character over two writes
        out.buffer.write(b"\xa9\n")
        out.buffer.write(b"latin-1 \xe9 and \xff\n")  # not UTF-8
        print(b"escaped \xff".decode("utf-8", "surrogateescape"))  # a lone surrogate
        out.buffer.write(b"cut \xe2\x82")  # a character the text below cuts short
        print(" then text")
        sys.stderr.buffer.write(b"to stderr \xe2\x82\xac\n")
        try:
            out.buffer.write("text")  # type: ignore[call-overload]
        except TypeError as exc:
            self.refused = str(exc)
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    BytesOutputFlow()
