"""One case's numbers: a transcript against its reference, a draft against its reference note."""

from __future__ import annotations

from scribe.evaluate.asr_metrics import Ratio, attribution, invented_segments, term_recall, word_errors
from scribe.evaluate.cases import EvalCase
from scribe.evaluate.note_metrics import draft_claims, draft_text, fact_scores, rouge, unsupported
from scribe.evaluate.results import FactScore, NoteScores, SpeechScores
from scribe.records import Letter, NoteDraft, Transcript


def speech_scores(transcript: Transcript, case: EvalCase, *, asr_seconds: float) -> SpeechScores:
    """WER, clinical-term error rate, attribution, invented segments and speed of one transcript.

    Attribution and invented segments need a timed reference; without one they stay None.
    """
    hypothesis = " ".join(s.text for s in transcript.segments)
    errors = word_errors(case.reference_text, hypothesis)
    terms = term_recall(case.reference_text, hypothesis)
    timed = bool(case.reference_segments)
    attributed = attribution(transcript, case.reference_segments) if timed else Ratio(0, 0)
    invented = invented_segments(transcript, case.reference_segments) if timed else Ratio(0, 0)
    duration = transcript.duration or 0.0
    return SpeechScores(
        reference_words=errors.total,
        word_errors=errors.hits,
        wer=errors.value,
        medical_terms=terms.total,
        medical_term_errors=terms.total - terms.hits,
        medical_term_wer=(terms.total - terms.hits) / terms.total if terms.total else None,
        attributed_words=attributed.total,
        attribution_correct=attributed.hits,
        attribution_accuracy=attributed.value,
        segments=len(transcript.segments),
        hallucinated_segments=invented.hits,
        hallucinated_segment_rate=invented.value if timed else None,
        rejected_segments=len(transcript.rejected),
        audio_seconds=duration,
        asr_seconds=asr_seconds,
        real_time_factor=asr_seconds / duration if duration else None,
    )


def _rate(hits: int, total: int) -> float | None:
    return hits / total if total else None


def note_scores(
    draft: NoteDraft,
    reference_note: str,
    *,
    letter: Letter | None = None,
    draft_seconds: float | None = None,
) -> NoteScores:
    """ROUGE and facts against the reference note (when there is one), grounding flags, letter reading level."""
    statements = sum(len(section.statements) for section in draft.sections)
    flagged = unsupported(draft)
    omissions = len(draft.omissions)
    scores = NoteScores(
        statements=statements,
        unsupported=flagged.hits,
        unsupported_rate=flagged.value,
        omissions=omissions,
        omission_rate=_rate(omissions, statements + omissions),
        draft_seconds=draft_seconds,
    )
    if reference_note.strip():
        r = rouge(draft_text(draft), reference_note, types=("rouge1", "rouge2", "rougeLsum"))
        facts = {kind: FactScore(**v) for kind, v in fact_scores(draft_claims(draft), reference_note).items()}
        tp = sum(f.tp for f in facts.values())
        fp = sum(f.fp for f in facts.values())
        fn = sum(f.fn for f in facts.values())
        scores = scores.model_copy(
            update={
                "rouge1": r["rouge1"],
                "rouge2": r["rouge2"],
                "rougeL": r["rougeLsum"],
                "facts": facts,
                "fact_precision": _rate(tp, tp + fp),
                "fact_recall": _rate(tp, tp + fn),
            }
        )
    if letter is not None and letter.readability is not None:
        scores = scores.model_copy(
            update={
                "letter_grade": letter.readability.flesch_kincaid_grade,
                "letter_reading_ease": letter.readability.flesch_reading_ease,
            }
        )
    return scores
