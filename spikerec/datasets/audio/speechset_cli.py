"""``python -m spikerec.datasets.audio.speechset_cli --out DIR``: build the espeak-ng speech recordings
(``make speech-data`` runs this, then ``spikerec data encode``). Parses, calls the library, prints."""

from __future__ import annotations

import argparse
import sys


def main(argv=None) -> int:
    from spikerec.io import print_result
    from spikerec.datasets.audio.speechset import WORDS, build_speech_set
    from spikerec.errors import SpikerecError

    p = argparse.ArgumentParser(description="Build the espeak-ng spoken-command recordings (wav + manifest.csv).")
    p.add_argument("--out", required=True, help="output folder for {word}/{speaker}_{n}.wav and manifest.csv")
    p.add_argument("--speakers", type=int, default=64, help="number of voices (accent x variant)")
    p.add_argument("--repeats", type=int, default=1, help="utterances of each word per speaker")
    p.add_argument("--words", default=",".join(WORDS), help="comma-separated words")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", action="store_true", help="print one JSON object")
    args = p.parse_args(argv)
    try:
        result = build_speech_set(args.out, args.speakers, args.repeats, args.words.split(","), args.seed)
    except SpikerecError as err:
        print(f"speechset: error: {err}", file=sys.stderr)
        return err.exit_code
    print_result(result, args.json, f"wrote {result['recordings']} recordings ({result['audio_seconds']:.0f} s of "
                                    f"audio, {result['speakers']} speakers) and {result['manifest']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
