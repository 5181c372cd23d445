"""Memory of past incidents: a fingerprint per analysis, recurrences recognised, and a
bounded prior from what the team confirmed.

When the same service fails the same way again, the team has often already said what it
was (a 👍, or a 👎 naming the real cause) and what fixed it. Each analysis is stored with
a `Fingerprint` (service, alarm, top category, normalised top error signatures, the kind
of change nearest before the onset); a new investigation recalls the past incidents of
its service whose fingerprints are similar, shows them ("Seen before"), gives them to the
agent, and `apply_prior` lets their confirmed causes weigh on the triage:

- only a cause the team confirmed counts, weighted by how similar its incidents were (one
  incident 0.6 similar earns the whole bound; causes confirmed for similar incidents share it);
- the boost is at most `max_prior` (0.15 unless configured), so it settles close calls
  and never overturns a clear reading of the telemetry;
- only a category the telemetry already supports is boosted: memory never invents one;
- the boosted hypothesis says so in its evidence, with the incidents behind it.

It runs after triage, as its own step; the triage itself never reads the store.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Sequence

from bot.engine.evidence import EvidenceBundle
from bot.engine.redact import redact
from bot.models import CATEGORY_TITLES, Category, Fingerprint, Investigation, PastIncident

MAX_PRIOR = 0.15
SIMILAR = 0.5  # the similarity from which a past incident counts as a recurrence
# The similarity (summed over past incidents of one cause) at which that cause gets the
# whole bound: one confirmed incident that similar is as much as memory can say.
FULL_SUPPORT = 0.6
SHOWN = 3  # past incidents shown and given to the agent
MAX_SIGNATURES = 5
WEIGHTS = {"alarm": 0.3, "category": 0.2, "signatures": 0.35, "change": 0.15}
UNREAD = {"signatures": "logs", "change": "changes"}  # a fingerprint part -> its source
_VARIABLE = re.compile(
    r"<\*>|[0-9a-f]{8}-[0-9a-f-]{27,}|\b[0-9a-f]{12,}\b|\d[\d.:,/-]*|\b[A-Z0-9]{10,}\b", re.I
)
_WORD = re.compile(r"[a-z][a-z_]{2,}")
_EVENT_VERSION = re.compile(r"\d{8}(?:v\d+)?$")


def normalise(text: str) -> str:
    """A log template or message without what varies between occurrences (ids, numbers,
    times), lower-cased and cut, so two occurrences of one failure compare equal."""
    cleaned = _VARIABLE.sub("#", redact(text))
    return " ".join(cleaned.lower().split())[:120]


def signatures_of(bundle: EvidenceBundle) -> list[str]:
    """The top error signatures: new or grown error log templates, most frequent first,
    and the trace operations that started failing."""
    found: list[str] = []
    logs = bundle.results.get("logs")
    patterns = list(logs.data.get("patterns", [])) if logs else []
    failing = [
        p
        for p in patterns
        if p.status in ("new", "grown") and (p.level in ("ERROR", "WARN") or p.markers)
    ]
    failing.sort(key=lambda p: p.recent, reverse=True)
    found += [normalise(p.template) for p in failing]
    traces = bundle.results.get("traces")
    for change in list(traces.data.get("segments", [])) if traces else []:
        before, after = change.failure_rates()
        if after - before >= 0.05:
            label = f"{change.service}.{change.operation}" if change.operation else change.name
            found.append(f"trace {normalise(label)} failing")
    return list(dict.fromkeys(s for s in found if s))[:MAX_SIGNATURES]


def change_kind_of(bundle: EvidenceBundle) -> str | None:
    """The kind of the related change nearest before the onset (`lambda:UpdateFunction…`)."""
    changes = bundle.results.get("changes")
    onset = bundle.window.onset
    related = [
        c
        for c in (changes.data.get("changes", []) if changes else [])
        if c.related and c.at <= onset
    ]
    if not related:
        return None
    nearest = max(related, key=lambda c: c.at)
    return f"{nearest.source.split('.')[0]}:{_EVENT_VERSION.sub('', nearest.name)}"


def changes_of(bundle: EvidenceBundle, limit: int = 10) -> list[dict[str, object]]:
    """The changes to the service's own resources the evidence found, as the incident
    report's timeline lists them (kept with the fingerprint)."""
    changes = bundle.results.get("changes")
    listed = [c for c in (changes.data.get("changes", []) if changes else []) if c.related]
    return [
        {
            "at": c.at.isoformat(),
            "name": c.name,
            "source": c.source,
            "resources": c.resources[:3],
            "user": c.user.rsplit("/", 1)[-1] if c.user else "",
        }
        for c in listed[-limit:]
    ]


def fingerprint(investigation: Investigation, bundle: EvidenceBundle) -> Fingerprint:
    top = investigation.top
    unread = [part for part, source in UNREAD.items() if source in bundle.missing]
    return Fingerprint(
        service=investigation.service,
        alarm=investigation.alarm,
        category=top.category if top and top.confidence > 0 else None,
        signatures=signatures_of(bundle),
        change_kind=change_kind_of(bundle),
        unread=unread,
    )


def _words(signatures: Sequence[str]) -> set[str]:
    return {w for s in signatures for w in _WORD.findall(s)}


def similarity(a: Fingerprint, b: Fingerprint) -> float:
    """0..1: the same alarm, the same first reading, the same error words (Jaccard) and the
    same kind of change before it, weighted by WEIGHTS. A part either side could not read
    (its logs or CloudTrail were unreadable) is left out and the rest re-weighted: unknown
    is not different. Fingerprints of different services never match."""
    if a.service != b.service:
        return 0.0
    words_a, words_b = _words(a.signatures), _words(b.signatures)
    union = words_a | words_b
    parts = {
        "alarm": float(a.alarm == b.alarm),
        "category": float(a.category is not None and a.category == b.category),
        "signatures": len(words_a & words_b) / len(union) if union else 0.0,
        "change": float(a.change_kind == b.change_kind) if a.change_kind or b.change_kind else 0.5,
    }
    known = {k: v for k, v in parts.items() if k not in {*a.unread, *b.unread}}
    weight = sum(WEIGHTS[k] for k in known)
    return round(sum(WEIGHTS[k] * v for k, v in known.items()) / weight, 3)


def recall(current: Fingerprint, past: Sequence[PastIncident]) -> list[PastIncident]:
    """The past incidents that look like this one, most similar (then latest) first."""
    scored = [p.model_copy(update={"similarity": similarity(current, p.fingerprint)}) for p in past]
    similar = [p for p in scored if p.similarity >= SIMILAR]
    similar.sort(key=lambda p: (p.similarity, p.opened_at), reverse=True)
    return similar


def apply_prior(
    investigation: Investigation,
    current: Fingerprint,
    past: Sequence[PastIncident],
    max_prior: float = MAX_PRIOR,
) -> Investigation:
    """The investigation with similar past incidents attached and, where the team confirmed
    their cause, that cause's hypothesis raised by a bounded, explained prior."""
    similar = recall(current, past)
    if not similar:
        return investigation
    update: dict = {"seen_before": similar[:SHOWN]}
    weights: dict[Category, list[PastIncident]] = defaultdict(list)
    for incident in similar:
        if incident.confirmed is not None:
            weights[incident.confirmed].append(incident)
    total = sum(p.similarity for group in weights.values() for p in group)
    if max_prior <= 0 or total == 0:
        return investigation.model_copy(update=update)
    hypotheses = []
    for h in investigation.hypotheses:
        backing = weights.get(h.category, [])
        support = sum(p.similarity for p in backing)
        boost = round(max_prior * min(1.0, support / FULL_SUPPORT) * support / total, 2)
        if not backing or boost <= 0 or h.confidence <= 0:
            hypotheses.append(h)
            continue
        line = _explain(h.category, backing, boost, max_prior)
        hypotheses.append(
            h.model_copy(
                update={
                    "confidence": round(min(0.99, h.confidence + boost), 2),
                    "evidence": [*h.evidence, line],
                }
            )
        )
    hypotheses.sort(key=lambda h: h.confidence, reverse=True)  # stable: ties keep their order
    update["hypotheses"] = hypotheses
    return investigation.model_copy(update=update)


def _explain(category: Category, backing: list[PastIncident], boost: float, bound: float) -> str:
    said = {"confirmed": "👍", "corrected": "👎 corrected"}
    incidents = ", ".join(
        f"#{p.incident_id} {p.opened_at:%Y-%m-%d} ({said.get(p.verdict, p.verdict)}, "
        f"similarity {p.similarity:.2f})"
        for p in backing[:3]
    )
    return (
        f"seen before: {len(backing)} similar past incident(s) of this service confirmed as "
        f"{CATEGORY_TITLES[category]}: {incidents}; prior +{boost:.2f} (at most {bound:.2f})"
    )
