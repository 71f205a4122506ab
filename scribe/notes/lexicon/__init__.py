"""Clinical facts in free text: medicines, doses, numbers, sides, dates, negations, red flags.

:func:`scribe.notes.lexicon.extraction.extract_facts` finds the facts a grounding check can verify
and an omission check can look for, in a transcript segment or in a note (UK or US style). Each
:class:`~scribe.notes.lexicon.facts.Fact` has a kind, the text as written with its character
offsets, and a normalised ``value`` so that different wordings compare equal: "five milligrams"
and "5 mg" are both dose ``5 mg``; "Ventolin" and "salbutamol" both medication ``salbutamol``;
"amoxycillin" (an ASR spelling) is matched to ``amoxicillin`` with rapidfuzz; "the right knee" is
laterality ``right`` of the knee; "three days" and "3/7" are both date ``3 day``.

Kinds: medication (generic name, or a class such as ``antibiotic``), dose, frequency, number,
laterality, date, negation, allergy, red_flag, symptom, problem, finding (signs, and
measurements or tests, which are never negated), safety_netting. Symptoms, red flags, findings,
problems, medicines and allergies carry a ``polarity``: present, absent ("no chest pain",
"denies fever") or asked (named in a question, uncertain as in "possible UTI", or hypothetical
as in "if you develop a fever"). In a transcript,
:func:`scribe.notes.lexicon.dialogue.segment_facts` settles asked facts from the answer in the
next turn ("Any chest pain?" "No." makes chest pain absent).

The word lists are the plain text files in this folder (one term per line, ``words = canonical``
for synonyms, # comments; an entry in CAPITALS matches only capitals); a site can read them to see
what is recognised.

Modules, each with one job (import a name from the module that owns it; nothing is re-exported
here): ``facts`` (the Fact record, polarities, the working document), ``wordlists`` (the .txt
lists), ``tokens`` (tokenising, normalising), ``phrases`` (lexicon phrases and misspelt medicines
in tokens), ``numbers`` (numbers in digits or words), ``quantities`` (doses, frequencies,
durations, measurements), ``dates``, ``laterality``, ``negation`` (negated, uncertain, asked,
hypothetical), ``allergies``, ``safety_netting``, ``extraction`` (``extract_facts``), ``dialogue``
(question and answer across speaker turns).
"""
