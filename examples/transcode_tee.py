"""Thumbnails from inside a transcode loop: decode once, re-encode, and pick from the same frames.

A transcoding service already decodes every frame; pushing those frames into a ``Picker``
gives its thumbnails without a second decode. The picker copies nothing it does not need: it
keeps PyAV frames by reference, makes a small copy for shot detection, and converts only the
candidates and the final picks.

    python examples/transcode_tee.py in.mp4 out.mp4 --width 640 --codec libx264 --model none
"""

from __future__ import annotations

import argparse
from fractions import Fraction

import av

from streamthumb import Config, Picker, Result, write_thumbnails


def transcode_with_thumbnails(
    src: str, dst: str, config: Config, *, width: int | None = None, codec: str = "libx264"
) -> Result:
    """Re-encode ``src`` into ``dst`` (``codec``, scaled to ``width``) and pick its thumbnails.

    The picker gets each decoded frame at its presentation time, before any scaling, so the
    picks are those ``streamthumb pick src`` finds.
    """
    with av.open(src) as inp, av.open(dst, "w") as out:
        ist = inp.streams.video[0]
        ist.thread_type = "AUTO"
        rate = ist.average_rate or ist.guessed_rate or Fraction(25)
        ost = out.add_stream(codec, rate=rate)
        ost.width = width or ist.codec_context.width
        ost.height = round(ist.codec_context.height * ost.width / ist.codec_context.width / 2) * 2
        ost.pix_fmt = "yuv420p"
        duration = float(ist.duration * ist.time_base) if ist.duration and ist.time_base else None
        start, t, count = ist.start_time, -1.0 / float(rate), 0
        with Picker(config, fps=float(rate), video=src, duration=duration) as picker:
            for frame in inp.decode(ist):
                if frame.pts is None:  # no timestamp: one frame after the last
                    t += 1.0 / float(rate)
                else:
                    start = frame.pts if start is None else start
                    t = max(0.0, float((frame.pts - start) * ist.time_base))
                picker.push(frame, t)  # the decoded frame itself: no copy, no conversion here
                scaled = frame.reformat(ost.width, ost.height, ost.pix_fmt)
                scaled.pts, scaled.time_base = count, Fraction(1) / rate  # the encoder's own clock
                count += 1
                out.mux(ost.encode(scaled))
            out.mux(ost.encode())
            return picker.finish()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("src")
    parser.add_argument("dst")
    parser.add_argument("--width", type=int, help="output width (default: the source's)")
    parser.add_argument("--codec", default="libx264")
    parser.add_argument("--model", default=None, help="open_clip model, or none")
    parser.add_argument("--thumbs", default="thumbs", help="where the thumbnails go")
    args = parser.parse_args()
    config = Config().with_overrides({"scoring.model": args.model} if args.model else {})
    result = transcode_with_thumbnails(args.src, args.dst, config, width=args.width, codec=args.codec)
    for p in write_thumbnails(result, args.thumbs, config.output).picks:
        print(f"{p.rank}\t{p.t:9.3f}s\tscore {p.score:+.4f}\t{p.path}")


if __name__ == "__main__":
    main()
