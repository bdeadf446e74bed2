"""``spikerec data synth|info|download|bin|encode``."""

from __future__ import annotations

import argparse
import time


def _synth(args: argparse.Namespace) -> int:
    from spikerec.io import print_result
    from spikerec.datasets.synthetic import synthesize

    t0 = time.perf_counter()
    paths = synthesize(args.kind, args.out, n_train=args.train, n_test=args.test, n_valid=args.valid,
                       n_classes=args.classes, seed=args.seed)
    result = {"kind": args.kind, "out": args.out, "files": {k: str(v) for k, v in paths.items()},
              "seconds": time.perf_counter() - t0}
    print_result(result, args.json, f"wrote {', '.join(str(p) for p in paths.values())} "
                                    f"({result['seconds']:.1f} s)")
    return 0


def _info(args: argparse.Namespace) -> int:
    from spikerec.io import print_result
    from spikerec.datasets.info import dataset_info, format_info

    info = dataset_info(args.file, n_channels=args.channels, on_error="skip" if args.skip_bad else "raise")
    print_result(info, args.json, format_info(info))
    return 0


def _download(args: argparse.Namespace) -> int:
    from spikerec.io import print_result
    from spikerec.datasets.download import download_dataset

    paths = download_dataset(args.dataset, args.data, variant=args.variant, base_url=args.base_url,
                             keep_archive=args.keep_archive, verbose=not args.json)
    result = {"dataset": args.dataset, "files": {k: str(v) for k, v in paths.items()}}
    print_result(result, args.json, "ready: " + ", ".join(str(p) for p in paths.values()))
    return 0


def _bin(args: argparse.Namespace) -> int:
    from spikerec.io import print_result
    from spikerec.datasets.frames import load_frames

    t0 = time.perf_counter()
    entry = load_frames(args.file, bin_ms=args.bin_ms, pool=args.pool, max_duration_ms=args.max_duration_ms,
                        binary=args.binary, on_error="skip" if args.skip_bad else "raise", cache_dir=args.cache_dir)
    lengths = entry.offsets[1:] - entry.offsets[:-1]
    result = {"file": args.file, "samples": len(lengths), "channels": int(entry.frames.shape[1]),
              "frames_total": int(entry.offsets[-1]), "frames_max": int(lengths.max()) if len(lengths) else 0,
              "dtype": str(entry.frames.dtype), "dropped_events": entry.dropped_events, "skipped": len(entry.skipped),
              "from_cache": entry.from_cache, "seconds": time.perf_counter() - t0}
    print_result(result, args.json, f"{args.file}: {result['samples']} samples -> {result['frames_total']} frames x "
                                    f"{result['channels']} channels ({'cache hit' if entry.from_cache else 'binned'}, "
                                    f"{result['seconds']:.2f} s, {entry.dropped_events} events beyond max duration)")
    return 0


def _encode(args: argparse.Namespace) -> int:
    from spikerec.io import print_result
    from spikerec.datasets.audio import CochleaConfig, encode_audio_dataset

    config = CochleaConfig(n_units=args.channels, fibres_per_place=args.fibres, sample_rate_hz=args.sample_rate)
    labels = args.labels.split(",") if args.labels else None
    result = encode_audio_dataset(args.audio, args.out, name=args.name, config=config, labels=labels,
                                  speaker_from=args.speaker_from, test_fraction=args.test_fraction,
                                  valid_fraction=args.valid_fraction, seed=args.seed,
                                  on_error="skip" if args.skip_bad else "raise", workers=args.workers,
                                  progress=True)  # tqdm writes to stderr; --json output stays clean
    skipped = f", skipped {result['skipped']} unreadable file(s)" if result["skipped"] else ""
    print_result(result, args.json, f"wrote {', '.join(result['files'].values())}: "
                                    + ", ".join(f"{k} {v}" for k, v in result["samples"].items())
                                    + f" samples, {result['classes']} classes, split by {result['split']}{skipped} "
                                    f"({result['audio_seconds']:.0f} s of audio in {result['encode_seconds']:.0f} s)")
    return 0


def register(subparsers) -> None:
    from spikerec.datasets.download import OFFICIAL_BASE_URL, VARIANTS
    from spikerec.datasets.synthetic import KINDS

    data = subparsers.add_parser("data", help="make, inspect, download and bin SHD/SSC data",
                                 description="SHD/SSC data in the official HDF5 layout.")
    sub = data.add_subparsers(dest="data_command", metavar="ACTION", required=True)

    p = sub.add_parser("synth", help="write a synthetic data set in the SHD/SSC layout")
    p.add_argument("--kind", choices=KINDS, required=True)
    p.add_argument("--out", required=True, help="output directory (files {shd,ssc}_{train,valid,test}.h5)")
    p.add_argument("--train", type=int, help="training samples")
    p.add_argument("--test", type=int, help="test samples")
    p.add_argument("--valid", type=int, help="validation samples (ssc only)")
    p.add_argument("--classes", type=int, help="number of classes (default shd 20, ssc 35, delay-motifs 8)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=_synth)

    p = sub.add_parser("info", help="statistics of one HDF5 file")
    p.add_argument("file")
    p.add_argument("--channels", type=int, default=700, help="channel count units must stay below")
    p.add_argument("--skip-bad", action="store_true", help="count and skip bad samples instead of failing")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=_info)

    p = sub.add_parser("download", help="download SHD or SSC from the official host (md5-checked, resumable)")
    p.add_argument("--dataset", choices=["shd", "ssc"], required=True)
    p.add_argument("--data", required=True, help="directory for the .h5 files; existing files are kept")
    p.add_argument("--variant", choices=VARIANTS, default="zip", help="archive format on the host")
    p.add_argument("--base-url", default=OFFICIAL_BASE_URL, help="mirror to download from")
    p.add_argument("--keep-archive", action="store_true", help="keep the .zip/.gz after decompressing")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=_download)

    p = sub.add_parser("bin", help="bin one file into frames (fills the cache used by training)")
    p.add_argument("file")
    p.add_argument("--bin-ms", type=float, default=10.0)
    p.add_argument("--pool", type=int, default=1, help="sum groups of this many channels")
    p.add_argument("--max-duration-ms", type=float)
    p.add_argument("--binary", action="store_true", help="clip counts to 1")
    p.add_argument("--cache-dir", help="cache directory (default: no cache)")
    p.add_argument("--skip-bad", action="store_true", help="count and skip bad samples instead of failing")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=_bin)

    p = sub.add_parser("encode", help="encode wav/flac recordings into SHD-layout spike files (cochlea model)",
                       description="Pass recordings through an SHD-style cochlea (gammatone filter bank, Meddis "
                                   "hair cells, auditory-nerve fibres, bushy cells) and write {name}_train.h5 / "
                                   "{name}_test.h5 (ssc: also _valid.h5) with disjoint speakers when known.")
    p.add_argument("--audio", required=True, help="folder with one sub-folder per class, or a CSV path,label[,speaker]")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--name", choices=["shd", "ssc"], default="shd",
                   help="file prefix and splits: shd -> train/test, ssc -> train/valid/test (what `spikerec train` reads)")
    p.add_argument("--channels", type=int, default=700, help="output units (SHD: 700)")
    p.add_argument("--fibres", type=int, default=5, help="threshold classes per cochlear place (divides --channels)")
    p.add_argument("--sample-rate", type=int, default=16000, help="internal sample rate (Hz); input is resampled")
    p.add_argument("--labels", help="comma-separated classes to keep, in label order (default: all, sorted)")
    p.add_argument("--speaker-from", help="regex whose first group is the speaker, searched in file names; "
                                          "'prefix' = text before the first underscore (Speech Commands)")
    p.add_argument("--test-fraction", type=float, default=0.2, help="fraction of recordings (whole speakers) for test")
    p.add_argument("--valid-fraction", type=float, default=0.1, help="same for valid (ssc only)")
    p.add_argument("--seed", type=int, default=0, help="split and spike-generation seed")
    p.add_argument("--workers", type=int, default=1, help="processes encoding in parallel")
    p.add_argument("--skip-bad", action="store_true", help="leave unreadable or silent recordings out and count them")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=_encode)
