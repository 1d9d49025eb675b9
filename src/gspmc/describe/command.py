"""``gspmc describe``: write sign descriptions for a vocabulary (see docs/describe.md)."""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gspmc.errors import ConfigError


@dataclass
class Summary:
    done: int = 0
    failed: int = 0
    skipped: int = 0
    tokens: int = 0
    seconds: float = 0.0
    kb_hits: int = 0
    paths: Counter[str] = field(default_factory=Counter)
    failures: dict[str, str] = field(default_factory=dict)

    def lines(self) -> list[str]:
        out = [f"done {self.done}, failed {self.failed}, skipped {self.skipped} (already done); "
               f"{self.tokens} tokens; {self.seconds:.1f} s",
               f"knowledge-base hits: {self.kb_hits} of {self.done + self.failed} described glosses"]
        if self.paths:
            out.append("global text from: " + ", ".join(f"{k} {v}" for k, v in sorted(self.paths.items())))
        for gloss, why in list(self.failures.items())[:20]:
            out.append(f"failed: {gloss}: {why}")
        return out


PATH_COLUMNS = ("primary", "synonyms", "global", "left_hand", "right_hand", "body", "face", "mouth")
_PATH_ABBREV = {"llm": "llm", "kb-fallback": "kb", "builtin": "builtin", "none": "-"}


def format_paths_table(records: list[Any]) -> str:
    """Per gloss, which path produced each text (llm / kb = knowledge-base fallback / builtin / - = none),
    with the totals per column; failed glosses say so."""
    head = "| gloss | status | " + " | ".join(PATH_COLUMNS) + " |"
    lines = ["where each text came from (llm = the model, validated; kb = knowledge-base rendering; "
             "builtin = idle class; - = no text):", head, "|" + "---|" * (len(PATH_COLUMNS) + 2)]
    totals: dict[str, Counter[str]] = {c: Counter() for c in PATH_COLUMNS}
    for rec in records:
        paths = rec.provenance.get("paths", {})
        cells = []
        for c in PATH_COLUMNS:
            v = paths.get(c, "builtin" if rec.provenance.get("idle") else "none")
            if rec.status != "ok":
                v = "none"
            totals[c][v] += 1
            cells.append(_PATH_ABBREV.get(v, v))
        lines.append(f"| {rec.gloss} | {rec.status} | " + " | ".join(cells) + " |")
    lines.append("| (total) | | " + " | ".join(
        ", ".join(f"{_PATH_ABBREV.get(k, k)} {n}" for k, n in sorted(totals[c].items())) for c in PATH_COLUMNS) + " |")
    return "\n".join(lines)


def describe_vocab(vocab: list[Any], describer: Any, writer: Any, force: bool = False, progress: bool = True,
                   concurrency: int = 1) -> Summary:
    """Describe every gloss not done yet, writing each result as soon as it is ready."""
    from tqdm import tqdm

    backend = describer.backend
    summary = Summary()
    def is_done(item: Any) -> bool:
        rec = writer.records.get(item.gloss)
        if rec is not None and rec.status == "ok" and rec.provenance.get("idle"):
            return item.gloss in describer.cfg.idle_glosses and rec.provenance.get("template_hash") == \
                describer.prompts.hash
        return writer.done(item.gloss, describer.prompts.hash, backend.name, backend.model)

    todo = [v for v in vocab if force or not is_done(v)]
    summary.skipped = len(vocab) - len(todo)
    start = time.monotonic()
    bar = tqdm(total=len(todo), desc="describe", unit="gloss", disable=not progress, file=sys.stderr)

    def record(desc: Any, tokens: int) -> None:
        writer.put(desc)
        summary.tokens += tokens
        if desc.status == "ok":
            summary.done += 1
            summary.paths[desc.provenance.get("paths", {}).get("global", "?")] += 1
        else:
            summary.failed += 1
            summary.failures[desc.gloss] = str(desc.provenance.get("error", "failed"))[:200]
        summary.kb_hits += bool(desc.provenance.get("kb_hit"))
        bar.set_postfix_str(f"{desc.gloss}: {desc.status}", refresh=False)
        bar.update(1)

    pool = ThreadPoolExecutor(max_workers=max(1, concurrency))
    pending: set[Future[Any]] = set()
    items = iter(todo)
    try:
        while True:
            while len(pending) < max(1, concurrency):
                item = next(items, None)
                if item is None:
                    break
                pending.add(pool.submit(describer.describe, item))
            if not pending:
                break
            finished, pending = wait(pending, timeout=0.5, return_when=FIRST_COMPLETED)
            for fut in finished:
                record(*fut.result())
    finally:
        pool.shutdown(wait=False, cancel_futures=True)
        bar.close()
        summary.seconds = time.monotonic() - start
    return summary


def parse_part(spec: str) -> tuple[int, int]:
    """``"K/N"`` -> (K, N) with 1 <= K <= N."""
    k, sep, n = spec.partition("/")
    try:
        kk, nn = int(k), int(n)
    except ValueError:
        kk = nn = 0
    if not sep or not 1 <= kk <= nn:
        raise ConfigError(f"--part {spec!r}: expected K/N with 1 <= K <= N, e.g. 2/5")
    return kk, nn


def part_slice(n_glosses: int, k: int, n: int) -> slice:
    """The K-th (1-based) of N contiguous, near-equal slices of ``n_glosses`` glosses."""
    return slice((k - 1) * n_glosses // n, k * n_glosses // n)


def select_glosses(vocab: list[Any], part: str | None = None, only: list[str] | None = None,
                   limit: int | None = None, vocab_name: str = "the vocabulary") -> list[Any]:
    """The glosses a run describes: ``--part K/N`` (a contiguous slice of the vocabulary), then ``--only``,
    then ``--limit``. The vocabulary itself (neighbours, header) is not changed by any of them."""
    todo = list(vocab)
    if part:
        k, n = parse_part(part)
        if n > len(vocab):
            raise ConfigError(f"--part {part}: the vocabulary has only {len(vocab)} glosses")
        todo = todo[part_slice(len(vocab), k, n)]
    if only:
        known = {v.gloss for v in vocab}
        unknown = [g for g in only if g not in known]
        if unknown:
            raise ConfigError(f"--only: {unknown} not in {vocab_name}")
        todo = [v for v in todo if v.gloss in set(only)]
        if not todo:
            raise ConfigError(f"--only: none of {only} is in --part {part}")
    if limit is not None:
        todo = todo[:limit]
    return todo


def run(args: argparse.Namespace) -> int:
    from gspmc.describe.kb import resolve_sources
    from gspmc.describe.llm import make_backend
    from gspmc.describe.pipeline import Describer, PipelineConfig
    from gspmc.describe.prompts import DEFAULT_VERSION, load_prompts
    from gspmc.describe.retrieval import open_index
    from gspmc.describe.store import StoreWriter, new_header
    from gspmc.describe.vocab import read_vocab

    def log(msg: str) -> None:
        print(msg, file=sys.stderr)

    vocab = read_vocab(args.vocab)
    if args.vocab_size is not None:
        if not 1 <= args.vocab_size <= len(vocab):
            raise ConfigError(f"--vocab-size {args.vocab_size}: {args.vocab} has {len(vocab)} classes")
        vocab = vocab[: args.vocab_size]
    todo = select_glosses(vocab, part=args.part, only=args.only, limit=args.limit, vocab_name=args.vocab)
    if args.dominant_hand not in ("right", "left"):
        raise ConfigError("--dominant-hand must be right or left")
    version = args.template_version or DEFAULT_VERSION
    prompts = load_prompts(args.templates, version)
    cfg = PipelineConfig(sign_language=args.sign_language, top_k=args.top_k, max_tokens=args.max_tokens,
                         n_synonyms=args.synonyms, format_retries=args.format_retries,
                         idle_glosses=tuple(args.idle), dominant_hand=args.dominant_hand,
                         neighbours=args.neighbours)
    if not args.kb and not args.no_kb:
        raise ConfigError("give the knowledge base with --kb (repeatable), or --no-kb to describe without "
                          "retrieval (the model's own knowledge only)")
    if args.kb and args.no_kb:
        raise ConfigError("--kb and --no-kb exclude each other")
    files = resolve_sources(args.kb) if args.kb else []
    if args.llm == "none" and not files:
        raise ConfigError("--llm none renders knowledge-base entries as texts: it needs --kb")
    backend = make_backend(args.llm, base_url=args.base_url, api_key_env=args.api_key_env, timeout=args.timeout,
                           max_retries=args.retries, concurrency=args.concurrency, temperature=args.temperature,
                           seed=args.seed, response_format=args.response_format, threads=args.threads)
    grounding = ("knowledge base: " + ", ".join(p.name for p in files)) if files else (
        "none: no dictionary of this sign language was retrieved; every text is the model's own knowledge, "
        "checked by the generic validation rules only")
    header = new_header(vocab=Path(args.vocab).name, vocab_size=len(vocab), sign_language=args.sign_language, backend=backend.name,
                        model=backend.model, template_hash=prompts.hash, template_version=version,
                        kb_sources=[p.name for p in files], grounding=grounding, dominant_hand=args.dominant_hand,
                        created=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                        **({"note": args.note} if args.note else {}),
                        **({"part": args.part, "part_glosses": [todo[0].gloss, todo[-1].gloss]} if args.part else {}),
                        **(backend.header_fields() if hasattr(backend, "header_fields") else {}))
    writer = StoreWriter(args.out, header, force=args.force)
    if writer.backup:
        log(f"unreadable store moved to {writer.backup}")
    index = open_index(files, args.index_dir, progress=not args.no_progress, log=log) if files else None
    describer = Describer(backend, index, prompts, cfg)
    if "neighbours" in prompts.placeholders and backend.name != "none":
        describer.prepare(vocab)  # always the whole vocabulary: a gloss's prompts do not depend on the selection
    if len(todo) < len(vocab):
        log(f"describing {len(todo)} of the vocabulary's {len(vocab)} glosses ({todo[0].gloss} ... {todo[-1].gloss})")
    try:
        summary = describe_vocab(todo, describer, writer, force=args.force, progress=not args.no_progress,
                                 concurrency=getattr(backend, "concurrency", 1))
    finally:
        backend.close()
    for line in summary.lines():
        print(line)
    print(format_paths_table([writer.records[v.gloss] for v in todo if v.gloss in writer.records]))
    print(f"store: {args.out} ({len(writer.records)} glosses)")
    return 0


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "describe", help="write sign descriptions (GSP: retrieval + LLM, P1-P4) for a vocabulary",
        description="Generate global, synonym and part descriptions for every gloss of a vocabulary with an LLM "
                    "grounded in a sign-dictionary knowledge base; results go to a resumable JSONL store.")
    p.add_argument("--vocab", required=True, help="class list: .npz (classes), AUTSL/SLR500 .csv, WLASL .tsv, "
                                                  "LSA64 .md or one gloss per line .txt")
    p.add_argument("--kb", action="append", metavar="DIR|FILE",
                   help="knowledge source (repeatable): folder, .csv/.jsonl/.md/.txt file, or builtin:asl-alphabet")
    p.add_argument("--no-kb", action="store_true",
                   help="no retrieval: the model describes from its own knowledge (recorded in the store header)")
    p.add_argument("--llm", default="local",
                   help="local | local:PATH.gguf | openai:MODEL | file:PATH | none (knowledge-base rendering, no "
                        "model) (default local)")
    p.add_argument("--neighbours", type=int, default=3,
                   help="vocabulary neighbours shown to P1/P3 by templates v2 (default 3; 0: none)")
    p.add_argument("--note", help="a note stored in the header (e.g. what grounding was missing)")
    p.add_argument("--out", required=True, help="description store (.jsonl); an existing one is resumed")
    p.add_argument("--force", action="store_true", help="redo every gloss (an unreadable store is kept as .bak)")
    p.add_argument("--vocab-size", type=int, metavar="N",
                   help="the vocabulary is the first N classes of --vocab (e.g. WLASL-300 from the 2000-class list): "
                        "neighbours, header and prompts see only these")
    p.add_argument("--part", metavar="K/N",
                   help="describe only the K-th of N contiguous slices of the vocabulary (for several answerers); "
                        "neighbours and prompts come from the whole vocabulary, so a gloss's requests are the same "
                        "as in a whole-vocabulary run")
    p.add_argument("--only", nargs="+", metavar="GLOSS",
                   help="describe only these glosses (neighbours still from the whole vocabulary)")
    p.add_argument("--limit", type=int,
                   help="describe only the first N glosses of the selection (the vocabulary is unchanged; "
                        "see --vocab-size)")
    p.add_argument("--sign-language", default="American Sign Language", help="named in the prompts")
    p.add_argument("--index-dir", type=Path, help="where the knowledge index is cached (default: cache dir)")
    p.add_argument("--templates", type=Path, help="folder with p1_primary.vN.md ... (default: shipped)")
    p.add_argument("--template-version", type=int, default=None,
                   help="prompt templates vN (default 2: neighbour-aware; 1: the paper's steps as written)")
    p.add_argument("--top-k", type=int, default=3, help="entries given to the LLM (default 3)")
    p.add_argument("--max-tokens", type=int, default=250, help="per LLM reply (default 250)")
    p.add_argument("--synonyms", type=int, default=2, help="paraphrases per gloss (default 2)")
    p.add_argument("--format-retries", type=int, default=2, help="re-asks after a malformed reply (default 2)")
    p.add_argument("--temperature", type=float, default=0.2)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--idle", nargs="*", default=["-"], metavar="GLOSS",
                   help="glosses meaning 'no sign' (fixed description, no LLM; default: -)")
    p.add_argument("--dominant-hand", default="right", help="which part the dictionaries' dominant hand is")
    g = p.add_argument_group("openai backend")
    g.add_argument("--base-url", help="API base URL (default $OPENAI_BASE_URL or api.openai.com)")
    g.add_argument("--api-key-env", default="OPENAI_API_KEY", help="environment variable with the API key")
    g.add_argument("--timeout", type=float, default=60.0, help="seconds per request")
    g.add_argument("--retries", type=int, default=4, help="retries on 429/5xx/timeouts (exponential backoff)")
    g.add_argument("--concurrency", type=int, default=4, help="requests in flight")
    g.add_argument("--response-format", default="json_object", choices=["json_schema", "json_object", "none"])
    g = p.add_argument_group("local backend")
    g.add_argument("--threads", type=int, default=1, help="CPU threads for llama.cpp")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=run)
