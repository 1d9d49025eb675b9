"""The GSP pipeline for one gloss (paper Eq. 3-6), with guard rails.

1. retrieve: hybrid search for the gloss; the entry that lists it as a headword is the gloss's
   own entry (``kb_hit``); the top ``k`` entries are the context.
2. P1 (Eq. 3) ``T_b = LLM_RAG(label, P1)``: primary description.
3. P2 (Eq. 4) ``T_s = LLM(label, P2)``: paraphrases of ``T_b``.
4. P3 (Eq. 5) ``T_g = LLM_RAG(T_b, P3)``: refined global description (references replaced by
   explicit articulation from the entries retrieved for ``T_b``; non-articulatory content dropped).
5. P4 (Eq. 6) ``T_p = LLM(T_g, P4)``: part texts for left hand, right hand, body, face, mouth.

Each reply is parsed against its schema; a malformed reply is sent back with the error, up to
``format_retries`` times; then the step counts as failed. A P1/P3 description that the checks
refuse is sent back once with the reasons (``content_retries``). Each generated text is checked against
the gloss's own entry (:mod:`gspmc.describe.validate`); a failed step or a rejected text is
replaced by the entry rendered as text (path ``kb-fallback``). Without an own entry only texts
that pass the generic checks are kept; a gloss without any global text is ``failed``.
A transport error (:class:`LLMError`) fails the gloss: nothing of it is written as valid.

Idle glosses (``-`` by default: the "no sign" class of traduttore) get a fixed, documented
description without any LLM call (path ``builtin``).

Neighbour-aware prompts (templates v2, gspmc's addition): :meth:`Describer.prepare` finds, for
each gloss of the vocabulary, the other glosses whose knowledge-base entries are articulated most
alike (:mod:`gspmc.describe.neighbours`); P1 and P3 show their entries (``$neighbours``) and ask
for the articulation that tells the sign apart from them.

The backend ``none`` (:class:`gspmc.describe.llm.NoLLMBackend`) makes no call at all: every step
takes the knowledge-base rendering (the "KB rendering without an LLM" row of Table 4).
Provenance records, per step, the id of each request sent (``requests``): with the file-exchange
backend these are the ids of the answers the texts came from.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from gspmc.describe.entry import PARTS, KBEntry
from gspmc.describe.llm import LLMBackend, LLMError, Message, request_id
from gspmc.describe.neighbours import Neighbour, neighbours_context, vocabulary_neighbours
from gspmc.describe.prompts import SCHEMAS, PromptSet
from gspmc.describe.retrieval import Hit, KBIndex
from gspmc.describe.store import Description
from gspmc.describe.validate import ReplyError, check_part, check_text, parse_reply
from gspmc.describe.vocab import VocabEntry

IDLE_DESCRIPTION: dict[str, Any] = {
    "global": ["No sign is made: both hands rest down at the sides or in the lap, the body is still and the "
               "face is neutral."],
    "synonyms": ["The signer is idle, with relaxed hands resting low and no hand movement."],
    "parts": {"left_hand": ["The left hand rests down and relaxed, not moving."],
              "right_hand": ["The right hand rests down and relaxed, not moving."],
              "body": ["The body stays upright and still."],
              "face": ["The face is neutral."],
              "mouth": []},
}


@dataclass(frozen=True)
class PipelineConfig:
    sign_language: str = "American Sign Language"
    top_k: int = 3  # entries shown to the LLM as context
    max_tokens: int = 250  # per LLM reply
    n_synonyms: int = 2
    format_retries: int = 2  # malformed replies sent back with the error
    content_retries: int = 1  # P1/P3 descriptions refused by the checks sent back with the reasons
    idle_glosses: tuple[str, ...] = ("-",)
    dominant_hand: str = "right"  # the dictionaries' dominant hand is this part's hand
    context_chars: int = 1000  # per entry in the prompt (ASL-LEX entries are <= 989 characters)
    neighbours: int = 3  # vocabulary neighbours shown to P1/P3 (templates with $neighbours)


@dataclass
class StepLog:
    tokens: int = 0
    calls: int = 0
    errors: list[str] = field(default_factory=list)
    rejected: dict[str, list[str]] = field(default_factory=dict)
    requests: dict[str, list[str]] = field(default_factory=dict)  # step -> ids of the requests sent


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def swap_sides(text: str) -> str:
    """Exchange "left" and "right" (for dictionaries rendered with a right dominant hand when the
    store's convention is a left dominant hand)."""
    return re.sub(r"\b(left|right|Left|Right)\b",
                  lambda m: {"left": "right", "right": "left", "Left": "Right", "Right": "Left"}[m.group(1)], text)


class Describer:
    """Runs P1-P4 for glosses with one backend, index and prompt set."""

    def __init__(self, backend: LLMBackend, index: KBIndex | None, prompts: PromptSet,
                 cfg: PipelineConfig | None = None) -> None:
        self.backend = backend
        self.index = index
        self.prompts = prompts
        self.cfg = cfg or PipelineConfig()
        self._hits: dict[str, tuple[list[Hit], KBEntry | None]] = {}
        self._neighbours: dict[str, list[Neighbour]] = {}

    # ------------------------------------------------------------ vocabulary-level preparation
    def _retrieve(self, item: VocabEntry) -> tuple[list[Hit], KBEntry | None]:
        """The top-k entries for a gloss and its own entry (cached per gloss)."""
        if item.gloss not in self._hits:
            names = list(dict.fromkeys([item.query, item.gloss]))  # e.g. English query + Turkish/Chinese key
            hits = self.index.search(item.query, k=self.cfg.top_k, gloss=names) if self.index else []
            # its own entry: one that has the gloss as its name, else one that lists it as another headword
            # (a higher-ranked entry that only lists the word, e.g. WHY_NOT for "not", must not win over NOT)
            own = next((h for h in hits if h.headword == "name"), None) or next((h for h in hits if h.headword), None)
            if own is not None:  # listed first: the prompt says the first entry is the sign's own
                hits = [own, *(h for h in hits if h is not own)]
            self._hits[item.gloss] = (hits, own.entry if own is not None else None)
        return self._hits[item.gloss]

    def prepare(self, vocab: list[VocabEntry]) -> dict[str, list[Neighbour]]:
        """Retrieve every gloss's entries and its vocabulary neighbours (for the ``$neighbours`` prompts).

        Call once with the whole vocabulary before :meth:`describe`; without it (or without an
        index) the neighbour block reads "(none)". Returns gloss -> neighbours."""
        items = [v for v in vocab if v.gloss not in self.cfg.idle_glosses]
        if self.index is None or self.cfg.neighbours <= 0 or len(items) < 2:
            self._neighbours = {}
            return {}
        own = {v.gloss: self._retrieve(v)[1] for v in items}
        self._neighbours = vocabulary_neighbours(self.index, own, {v.gloss: v.query for v in items},
                                                 n=self.cfg.neighbours)
        return self._neighbours

    # ------------------------------------------------------------ helpers
    def _side(self, text: str) -> str:
        return swap_sides(text) if self.cfg.dominant_hand == "left" else text

    def _context(self, hits: list[Hit], own: KBEntry | None = None) -> str:
        if not hits:
            return "(no entries found)"
        lines = [] if own is not None else [
            "(No entry of this sign was found: the entries below are other signs, shown for their articulation "
            "terms only.)"]
        for n, hit in enumerate(hits, start=1):
            text = hit.entry.text[: self.cfg.context_chars]
            lines.append(f"[{n}] ({hit.entry.id}) {self._side(text)}")
        return "\n".join(lines)

    def _ask(self, step: str, values: dict[str, str], log: StepLog,
             check: Callable[[dict[str, Any]], list[str]] | None = None) -> dict[str, Any] | None:
        """One step: render, call, parse; malformed replies are fed back (``format_retries``). None if
        all attempts fail (and always None with the ``none`` backend, which is never called).

        ``check(reply) -> problems``: a parsed reply whose text the guard rails refuse is sent back once
        more with the reasons (``content_retries``); the last parsed reply is returned either way (the
        caller checks it again and falls back if it is still refused)."""
        if self.backend.name == "none":
            return None
        messages: list[Message] = self.prompts[step].render(**values)
        schema = SCHEMAS[step]
        format_left, content_left = self.cfg.format_retries, self.cfg.content_retries
        while True:
            log.requests.setdefault(step, []).append(request_id(messages))
            reply = self.backend.chat(messages, schema, self.cfg.max_tokens)
            log.calls += 1
            log.tokens += reply.prompt_tokens + reply.completion_tokens
            try:
                obj = parse_reply(reply.text, schema)
            except ReplyError as err:
                log.errors.append(f"{step}: {err}")
                if format_left <= 0:
                    return None
                format_left -= 1
                messages = messages + [
                    {"role": "assistant", "content": reply.text[:2000]},
                    {"role": "user", "content": f"Your reply was not valid: {err}. Reply again with only a JSON "
                                                "object that matches the requested format."},
                ]
                continue
            problems = check(obj) if check is not None else []
            if not problems or content_left <= 0:
                return obj
            content_left -= 1
            log.rejected.setdefault(f"{step} (sent back)", []).append("; ".join(problems))
            messages = messages + [
                {"role": "assistant", "content": reply.text[:2000]},
                {"role": "user", "content": f"Your description was not accepted: {'; '.join(problems)}. Write it "
                                            "again following the instructions, as a JSON object in the requested "
                                            "format."},
            ]

    # ------------------------------------------------------------ one gloss
    def idle(self, item: VocabEntry) -> Description:
        prov = {"backend": "builtin", "model": "none", "template_hash": self.prompts.hash, "kb_ids": [],
                "kb_hit": False, "idle": True,
                "paths": {"global": "builtin", "synonyms": "builtin", **{p: "builtin" for p in PARTS}},
                "time": _now()}
        return Description(item.gloss, "ok", list(IDLE_DESCRIPTION["global"]), list(IDLE_DESCRIPTION["synonyms"]),
                           {p: list(IDLE_DESCRIPTION["parts"][p]) for p in PARTS}, prov)

    def describe(self, item: VocabEntry) -> tuple[Description, int]:
        """Run the pipeline for one gloss -> (description, tokens used)."""
        if item.gloss in self.cfg.idle_glosses:
            return self.idle(item), 0
        start = time.monotonic()
        log = StepLog()
        hits, own = self._retrieve(item)
        neighbours = self._neighbours.get(item.gloss, [])
        prov: dict[str, Any] = {
            "backend": self.backend.name, "model": self.backend.model,
            "temperature": self.backend.temperature, "seed": self.backend.seed,
            "template_hash": self.prompts.hash, "query": item.query,
            "kb_ids": [h.entry.id for h in hits], "kb_hit": own is not None,
            "kb_entry": own.id if own else None,
            "neighbours": [nb.gloss for nb in neighbours] if "neighbours" in self.prompts.placeholders else [],
        }
        paths: dict[str, str] = {}
        try:
            texts = self._run_steps(item, hits, own, log, paths, neighbours)
        except LLMError as err:
            prov.update(paths=paths, error=str(err), errors=log.errors, requests=log.requests, time=_now(),
                        elapsed_s=round(time.monotonic() - start, 2), tokens=log.tokens)
            return Description(item.gloss, "failed", provenance=prov), log.tokens
        global_, synonyms, parts = texts
        status = "ok" if global_ else "failed"
        prov.update(paths=paths, rejected=log.rejected, errors=log.errors, requests=log.requests, llm_calls=log.calls,
                    tokens=log.tokens, time=_now(), elapsed_s=round(time.monotonic() - start, 2))
        if status == "failed":
            prov["error"] = "no knowledge-base entry and no generated description passed validation"
            return Description(item.gloss, "failed", provenance=prov), log.tokens
        return Description(item.gloss, status, global_, synonyms, parts, prov), log.tokens

    def _accept(self, field_name: str, text: Any, problems: list[str], log: StepLog) -> bool:
        if problems:
            snippet = str(text)[:80]
            log.rejected.setdefault(field_name, []).append(f"{'; '.join(problems)}: {snippet!r}")
            return False
        return True

    def _run_steps(self, item: VocabEntry, hits: list[Hit], own: KBEntry | None, log: StepLog,
                   paths: dict[str, str], neighbours: list[Neighbour] | None = None,
                   ) -> tuple[list[str], list[str], dict[str, list[str]]]:
        cfg = self.cfg
        other = "left" if cfg.dominant_hand == "right" else "right"
        base = {"sign_language": cfg.sign_language, "gloss": item.query,
                "hint": f" ({item.hint})" if item.hint else "", "dominant_side": cfg.dominant_hand,
                "other_side": other,
                "neighbours": neighbours_context(neighbours or [], cfg.context_chars, self._side)}
        fallback_global = self._side(own.description or own.text) if own else ""

        # P1 (Eq. 3): primary description, grounded in the retrieved entries
        def check_global(obj: dict[str, Any]) -> list[str]:
            return check_text(str(obj.get("description", "")).strip(), own, "global")

        reply = self._ask("p1_primary", {**base, "context": self._context(hits, own)}, log, check_global)
        primary = reply["description"].strip() if reply else ""
        if reply and self._accept("primary", primary, check_text(primary, own, "global"), log):
            paths["primary"] = "llm"
        elif own:
            primary, paths["primary"] = fallback_global, "kb-fallback"
        else:
            paths["primary"] = "none"
            return [], [], {p: [] for p in PARTS}

        # P2 (Eq. 4): paraphrases of the primary description
        reply = self._ask("p2_synonyms", {**base, "primary": primary, "n_synonyms": str(cfg.n_synonyms)}, log)
        synonyms = []
        for text in (reply or {}).get("paraphrases", [])[: cfg.n_synonyms]:
            text = text.strip()
            if self._accept("synonyms", text, check_text(text, own, "synonym"), log) and text not in synonyms:
                synonyms.append(text)
        paths["synonyms"] = "llm" if synonyms else "none"
        if not synonyms and own and own.paraphrase:
            synonyms, paths["synonyms"] = [self._side(own.paraphrase)], "kb-fallback"

        # P3 (Eq. 5): refinement with retrieval for the primary text's references
        ref_hits = self.index.search(primary, k=cfg.top_k) if self.index else []
        ctx_hits = ([h for h in hits if h.entry is own] if own else []) + [
            h for h in ref_hits if own is None or h.entry.id != own.id]
        reply = self._ask("p3_refine", {**base, "primary": primary,
                                         "context": self._context(ctx_hits[: cfg.top_k], own)}, log, check_global)
        refined = reply["description"].strip() if reply else ""
        if reply and self._accept("global", refined, check_text(refined, own, "global"), log):
            paths["global"] = "llm"
        elif own:
            refined, paths["global"] = fallback_global, "kb-fallback"
        else:  # no entry to fall back on: keep the validated primary text
            refined, paths["global"] = primary, paths["primary"]

        # P4 (Eq. 6): decomposition into part texts
        reply = self._ask("p4_parts", {**base, "refined": refined}, log)
        parts: dict[str, list[str]] = {p: [] for p in PARTS}
        for part in PARTS:
            for text in (reply or {}).get(part, []):
                text = text.strip()
                if self._accept(part, text, check_part(text, part, own), log) and text not in parts[part]:
                    parts[part].append(text)
            paths[part] = "llm" if parts[part] else "none"
        if own:
            for part, texts in own.parts.items():
                target = part if cfg.dominant_hand == "right" else {"left_hand": "right_hand",
                                                                   "right_hand": "left_hand"}.get(part, part)
                if not parts[target] and texts:
                    parts[target] = [self._side(t) for t in texts]
                    paths[target] = "kb-fallback"
        return [refined], synonyms, parts
