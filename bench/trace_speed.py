"""Knowledge-tracing throughput and memory, end to end, on a corpus built from the shared samples.

    .venv/bin/python bench/trace_speed.py --size-mb 1024      # needs ../shared; run by hand

Builds a WikiExtractor-layout corpus (`AA/wiki_00`, ... JSON lines) in a temporary directory by
repeating ../shared/data/wiki/<lang>, consecutive sample documents grouped into article-sized
documents (1 to 12 kB, so that long ones are cut into several segments), every 8th file
bzip2-compressed. Then, each in a fresh process, for a quarter of the size and the full size:

1. end to end: ingest (decompress, parse, cut into <= 512-token segments with the real mBERT
   tokenizer, write to DuckDB) then trace_parallel (normalise, match every sub and obj label of the
   language's mLAMA facts) over the segments read back; MB of document text per wall second, per
   wall second and core, and per CPU second (all processes), peak RSS of the main process and of
   the largest worker. Memory should be flat in the input size once DuckDB reaches its memory
   limit (ingest.wikipedia.DUCKDB_MEMORY_LIMIT): beyond it the staged rows spill to disk.
2. the matching step alone (the Aho-Corasick pass and the pairing of labels into facts, over
   pre-normalised text, one core) against
   `LC_ALL=C grep -F -c -f labels.txt` over the same text (one segment per line); grep -c stops
   at a line's first match, our matcher finds every label, so the ratio flatters grep.
3. a naive DuckDB query (segments JOIN facts ON contains(text, sub) AND contains(text, obj)) against
   our matcher on a 20 MB slice, both on normalised text, same counts checked.
"""
from __future__ import annotations

import argparse
import bz2
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
SHARED = ROOT.parent / "shared" / "data"
VOCAB = SHARED / "tokenizers" / "bert-base-multilingual-cased" / "vocab.txt"


def build_corpus(target: Path, lang: str, size_mb: float) -> float:
    """Write the corpus; return its MB of document text."""
    sample = [json.loads(line)["text"] for line in open(SHARED / "wiki" / lang / "AA" / "wiki_00", encoding="utf-8")]
    sizes = [1000, 2500, 4000, 6000, 9000, 12000]
    written, copy, n_file = 0, 0, 0
    while written < size_mb * 1e6:
        docs, current, doc_no = [], [], 0
        for text in sample:
            current.append(text)
            if sum(map(len, current)) >= sizes[doc_no % len(sizes)]:
                docs.append("\n".join(current))
                current, doc_no = [], doc_no + 1
        lines = []
        for i, text in enumerate(docs):
            lines.append(json.dumps({"id": f"{copy}-{i}", "revid": "", "url": "", "title": "", "text": text},
                                    ensure_ascii=False))
            written += len(text.encode())
            done = written >= size_mb * 1e6
            if len(lines) == 2000 or i == len(docs) - 1 or done:
                folder = target / f"A{chr(65 + n_file // 100)}"
                folder.mkdir(parents=True, exist_ok=True)
                data = ("\n".join(lines) + "\n").encode()
                if n_file % 8 == 7:
                    (folder / f"wiki_{n_file % 100:02d}.bz2").write_bytes(bz2.compress(data, 9))
                else:
                    (folder / f"wiki_{n_file % 100:02d}").write_bytes(data)
                lines, n_file = [], n_file + 1
            if done:
                break
        copy += 1
    return written / 1e6


def load_facts(lang: str) -> list[tuple[str, str, str]]:
    facts = []
    for path in sorted((SHARED / "mlama1.1" / lang).glob("*.jsonl")):
        for line in open(path, encoding="utf-8"):
            record = json.loads(line) if line.strip() else {}
            if "uuid" in record:
                facts.append((record["uuid"], record["sub_label"], record["obj_label"]))
    return facts


class RssSampler(threading.Thread):
    """Peak resident memory of this process, of its largest child and of all of them together,
    sampled from /proc every 0.2 s (a child's ru_maxrss would include the parent it forked from)."""

    def __init__(self):
        super().__init__(daemon=True)
        self.main_mb = self.worker_mb = self.total_mb = 0.0
        self.stopped = threading.Event()

    @staticmethod
    def rss_mb(pid: int) -> float:
        try:
            for line in open(f"/proc/{pid}/status"):
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
        except OSError:
            pass
        return 0.0

    def run(self) -> None:
        me = os.getpid()
        while not self.stopped.wait(0.2):
            children = [int(pid) for task in Path(f"/proc/{me}/task").iterdir()
                        for pid in (task / "children").read_text().split()]
            main, workers = self.rss_mb(me), [self.rss_mb(pid) for pid in children]
            self.main_mb = max(self.main_mb, main)
            self.worker_mb = max([self.worker_mb, *workers])
            self.total_mb = max(self.total_mb, main + sum(workers))


class TreeCpuSampler(threading.Thread):
    """CPU seconds (user + system) spent by this process and all its descendants (Ray's daemons and
    workers included) while it runs, from /proc every 0.1 s: a process's own times, the last
    reading of each (pid, start time) counted, so processes that end in between (a Ray worker's
    parent reaps it without adding its times to its own) lose at most one interval."""

    def __init__(self):
        super().__init__(daemon=True)
        self.stopped = threading.Event()
        self.first = self.tree()
        self.last = dict(self.first)

    @staticmethod
    def tree() -> dict:
        ticks, seen, pending = os.sysconf("SC_CLK_TCK"), {}, [os.getpid()]
        while pending:
            pid = pending.pop()
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
                pending += [int(child) for task in Path(f"/proc/{pid}/task").iterdir()
                            for child in (task / "children").read_text().split()]
            except OSError:  # ended meanwhile
                continue
            seen[(pid, fields[19])] = (int(fields[11]) + int(fields[12])) / ticks  # utime + stime; starttime
        return seen

    def run(self) -> None:
        while not self.stopped.wait(0.1):
            self.last |= self.tree()

    def seconds(self) -> float:
        self.stopped.set()
        self.join()
        self.last |= self.tree()
        return sum(cpu - self.first.get(key, 0.0) for key, cpu in self.last.items())


def cpu_seconds() -> float:
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def segments_of(con, batch_rows: int = 20_000):
    """Stream (segment_id, text) from the database, in storage order."""
    cursor = con.execute("SELECT segment_id, text FROM raw.wiki_segments")
    while rows := cursor.fetchmany(batch_rows):
        yield from rows


def one_run(args) -> dict:
    """Build, ingest and trace one size; with --compare also the matcher comparisons."""
    import duckdb

    from compute.models import mbert_tokenizer
    from compute.tracing import Tracer, normalise, trace_parallel
    from ingest.wikipedia import DUCKDB_MEMORY_LIMIT, ingest_wikipedia

    work = Path(tempfile.mkdtemp(prefix="trace_speed_", dir=args.tmp))
    try:
        started = time.perf_counter()
        text_mb = build_corpus(work / "corpus", args.lang, args.size_mb)
        input_mb = sum(p.stat().st_size for p in (work / "corpus").rglob("*") if p.is_file()) / 1e6
        result = {"size_mb": args.size_mb, "text_mb": text_mb, "input_mb": input_mb,
                  "build_s": time.perf_counter() - started}
        tokenizer, facts = mbert_tokenizer(VOCAB), load_facts(args.lang)
        database = work / "build.duckdb"

        sampler = RssSampler()
        sampler.start()
        cpu0, wall0 = cpu_seconds(), time.perf_counter()
        report = ingest_wikipedia(database, work / "corpus", args.lang, tokenizer, workers=args.workers, progress=False)
        cpu1, wall1 = cpu_seconds(), time.perf_counter()
        con = duckdb.connect(str(database), read_only=True)
        con.execute(f"SET memory_limit = '{DUCKDB_MEMORY_LIMIT}'")  # reading back is capped like the load
        rows = trace_parallel(segments_of(con), facts, args.lang, workers=args.workers)
        cpu2, wall2 = cpu_seconds(), time.perf_counter()
        sampler.stopped.set()
        result |= {
            "documents": report.n_documents, "segments": report.n_segments, "tokens": report.n_tokens,
            "facts": len(facts), "present": sum(r.present for r in rows),
            "ingest_s": wall1 - wall0, "trace_s": wall2 - wall1, "cpu_s": cpu2 - cpu0,
            "ingest_cpu_s": cpu1 - cpu0, "trace_cpu_s": cpu2 - cpu1,
            "main_peak_mb": sampler.main_mb, "worker_peak_mb": sampler.worker_mb, "total_peak_mb": sampler.total_mb,
        }
        if args.compare:
            result |= compare(con, facts, args.lang, work, Tracer, normalise, args.sql_mb)
        con.close()
        return result
    finally:
        shutil.rmtree(work, ignore_errors=True)


def matching_seconds(tracer, rows: list[tuple[int, str]]) -> float:
    """CPU seconds of the matching step alone (the automaton's pass and the pairing of labels into
    facts) over (segment_id, normalised text) rows, in the chunks the tracer is given."""
    from compute.pool import chunks
    from compute.tracing import _CHUNK_CHARS

    started = time.process_time()
    for chunk in chunks(rows, lambda row: len(row[1]), _CHUNK_CHARS):
        tracer.count_normalised([i for i, _ in chunk], [text for _, text in chunk])
    return time.process_time() - started


def compare(con, facts, lang, work: Path, tracer_class, normalise, sql_mb: float) -> dict:
    """The matching step alone vs grep -F, and the matcher vs a naive SQL join, on normalised text."""
    import duckdb

    slice_rows, size = [], 0
    for segment_id, text in segments_of(con):
        slice_rows.append((segment_id, normalise(text, lang).replace("\n", " ")))
        size += len(slice_rows[-1][1].encode())
        if size >= 200e6:
            break
    slice_mb = size / 1e6
    labels = sorted({normalise(label, lang) for _, sub, obj in facts for label in (sub, obj)} - {""})
    (work / "labels.txt").write_text("\n".join(labels) + "\n", encoding="utf-8")
    (work / "text.txt").write_text("\n".join(text for _, text in slice_rows) + "\n", encoding="utf-8")
    tracer = tracer_class(facts, lang)

    match_s = matching_seconds(tracer, slice_rows)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    grep = subprocess.run(["grep", "-F", "-c", "-f", str(work / "labels.txt"), str(work / "text.txt")],
                          capture_output=True, text=True, env={**os.environ, "LC_ALL": "C"})
    grep_wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    grep_cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)

    sql_rows, size = [], 0.0
    for row in slice_rows:
        sql_rows.append(row)
        size += len(row[1].encode())
        if size >= sql_mb * 1e6:
            break
    sql_mb = size / 1e6
    t0 = time.process_time()
    hits = tracer.count(sql_rows)   # normalising already-normalised text again is part of this figure
    ours_s = time.process_time() - t0
    db = duckdb.connect()
    db.execute("CREATE TABLE segments (segment_id BIGINT, text TEXT)")
    db.executemany("INSERT INTO segments VALUES (?, ?)", sql_rows)
    db.execute("CREATE TABLE facts (fact INTEGER, sub TEXT, obj TEXT)")
    db.executemany("INSERT INTO facts VALUES (?, ?, ?)",
                   [(i, normalise(sub, lang), normalise(obj, lang)) for i, (_, sub, obj) in enumerate(facts)])
    threads = db.execute("SELECT current_setting('threads')").fetchone()[0]
    t0 = time.perf_counter()
    sql = dict((fact, [n, first]) for fact, n, first in db.execute("""
        SELECT f.fact, count(*), min(s.segment_id) FROM facts f JOIN segments s
          ON contains(s.text, f.sub) AND contains(s.text, f.obj)
        WHERE f.sub <> '' AND f.obj <> '' GROUP BY f.fact""").fetchall())
    sql_s = time.perf_counter() - t0
    return {"slice_mb": slice_mb, "match_s": match_s, "grep_wall_s": grep_wall, "grep_cpu_s": grep_cpu,
            "grep_lines": int(grep.stdout.strip() or 0), "labels": len(labels), "sql_mb": sql_mb,
            "ours_sql_slice_s": ours_s, "sql_s": sql_s, "sql_threads": threads, "sql_same": sql == hits}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mb", type=float, default=1024, help="MB of document text at full size")
    parser.add_argument("--lang", default="en")
    parser.add_argument("--workers", type=int, default=None, help="worker processes (default: all cores)")
    parser.add_argument("--tmp", default=None, help="where to build the corpus and database")
    parser.add_argument("--sql-mb", type=float, default=20, help="slice for the naive SQL comparison (slow: minutes)")
    parser.add_argument("--one-run", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--compare", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if not VOCAB.exists():
        sys.exit(f"{VOCAB}: not found (the benchmark needs ../shared)")
    if args.one_run:
        print(json.dumps(one_run(args)))
        return

    from compute.pool import n_cores
    from ingest.wikipedia import DUCKDB_MEMORY_LIMIT

    cores = args.workers or n_cores()

    print(f"{cores} cores, load average before: {os.getloadavg()[0]:.2f}; DuckDB memory limit {DUCKDB_MEMORY_LIMIT}")
    results = []
    for size, compare_too in ((args.size_mb / 4, False), (args.size_mb, True)):
        command = [sys.executable, __file__, "--one-run", "--size-mb", str(size), "--lang", args.lang]
        command += ["--sql-mb", str(args.sql_mb)] + (["--workers", str(args.workers)] if args.workers else [])
        command += ["--tmp", args.tmp] if args.tmp else []
        command += ["--compare"] if compare_too else []
        run = subprocess.run(command, capture_output=True, text=True)
        if run.returncode:
            sys.exit(run.stderr)
        results.append(json.loads(run.stdout.strip().splitlines()[-1]))
        r = results[-1]
        wall = r["ingest_s"] + r["trace_s"]
        print(f"\n{r['text_mb']:.0f} MB of text ({r['input_mb']:.0f} MB of files, 1/8 bzip2), {r['documents']:,} documents, "
              f"{r['segments']:,} segments, {r['tokens']:,} tokens; {r['facts']:,} facts, {r['present']:,} present")
        print(f"  end to end {wall:.0f} s: {r['text_mb'] / wall:.2f} MB/s, {r['text_mb'] / wall / cores:.2f} MB/s per core, "
              f"{r['text_mb'] / r['cpu_s']:.2f} MB per CPU second")
        print(f"    ingest {r['ingest_s']:.0f} s ({r['ingest_cpu_s']:.0f} CPU s), "
              f"trace {r['trace_s']:.0f} s ({r['trace_cpu_s']:.0f} CPU s: {r['text_mb'] / r['trace_cpu_s']:.1f} MB per CPU s)")
        print(f"  peak RSS: main {r['main_peak_mb']:.0f} MB, largest worker {r['worker_peak_mb']:.0f} MB, "
              f"all processes together {r['total_peak_mb']:.0f} MB")
        print(f"  (corpus built in {r['build_s']:.0f} s, not counted)")
    small, large = results
    print(f"\npeak memory for x{large['text_mb'] / small['text_mb']:.1f} the input: main x{large['main_peak_mb'] / small['main_peak_mb']:.2f}, "
          f"largest worker x{large['worker_peak_mb'] / small['worker_peak_mb']:.2f}, "
          f"all together x{large['total_peak_mb'] / small['total_peak_mb']:.2f}")
    r = large
    print(f"matching alone ({r['labels']:,} labels, {r['slice_mb']:.0f} MB normalised): {r['slice_mb'] / r['match_s']:.1f} MB/s "
          f"on one core; grep -F -c: {r['slice_mb'] / r['grep_cpu_s']:.1f} MB/s (CPU), {r['slice_mb'] / r['grep_wall_s']:.1f} "
          f"MB/s (wall) -> ours / grep = {r['grep_cpu_s'] / r['match_s']:.2f}")
    print(f"naive SQL on {r['sql_mb']:.0f} MB ({r['sql_threads']} threads): {r['sql_s']:.1f} s wall; ours {r['ours_sql_slice_s']:.2f} s "
          f"on one core -> {r['sql_s'] / r['ours_sql_slice_s']:.0f}x faster (same counts: {r['sql_same']})")
    print(f"load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
