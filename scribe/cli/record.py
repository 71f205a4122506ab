"""`scribe record`: record a consultation from the microphone to a crash-safe WAV file."""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.console import Console, Group
from rich.live import Live
from rich.table import Table
from rich.text import Text

from scribe import pipeline
from scribe.asr.engine import load_engine
from scribe.asr.formats import to_json
from scribe.asr.streaming import transcribe_live
from scribe.audio.capture import SAMPLE_RATE, Recorder, list_input_devices
from scribe.audio.decode import decode_file
from scribe.audio.recording import RecordingExistsError, recover
from scribe.audio.replay import FileInput
from scribe.config import Settings, load_settings
from scribe.errors import CaptureError, ScribeError
from scribe.fileio import write_text_atomic
from scribe.records import NoteSection, Segment, Transcript

if TYPE_CHECKING:
    from scribe.notes.draft import LiveDrafter

_METER_WIDTH = 30
_METER_FLOOR_DB = -60.0
_PAUSE_KEYS = {"\n", "\r", "p", "P", " "}


def register(app: typer.Typer) -> None:
    app.command("record")(record)


def record(
    out: Path | None = typer.Argument(
        None, metavar="OUT", help="WAV file to write (16 kHz, 16-bit PCM).", show_default=False
    ),
    device: str | None = typer.Option(
        None, "--device", "-d", help="Input device: its index or part of its name (see --list-devices)."
    ),
    list_devices: bool = typer.Option(False, "--list-devices", help="List the microphones and exit."),
    channels: int = typer.Option(1, "--channels", "-c", min=1, max=2, help="1 (mono) or 2 (one speaker per channel)."),
    max_minutes: float | None = typer.Option(
        None, "--max-minutes", min=0.01, help="Stop after this many minutes of audio (default: the configured maximum)."
    ),
    force: bool = typer.Option(False, "--force", "-f", help="Overwrite OUT if it exists."),
    recover_file: Path | None = typer.Option(
        None, "--recover", metavar="FILE", help="Repair a recording left unfinished by a crash, then exit."
    ),
    live: bool = typer.Option(False, "--live", help="Transcribe while recording; the transcript is ready at stop."),
    transcript: Path | None = typer.Option(
        None, "--transcript", help="With --live: where to write the transcript JSON (default OUT.transcript.json)."
    ),
    model: str | None = typer.Option(None, "--model", "-m", help="With --live: catalogue name or CTranslate2 folder."),
    note: Path | None = typer.Option(
        None, "--note", help="With --live: draft a note (JSON) at stop; the LLM reads the transcript while you record."
    ),
    replay: Path | None = typer.Option(
        None,
        "--replay",
        metavar="FILE",
        help="Play FILE in place of the microphone, at real time, and stop at its end (demos, set-up checks).",
    ),
    speed: float = typer.Option(1.0, "--speed", min=0.1, max=20.0, help="With --replay: times faster than real time."),
) -> None:
    """Record from the microphone. Enter or p pauses and resumes; Ctrl-C stops and saves.

    The file is written as audio arrives and synced every second, so a crash loses at most about a second (repair such a file with --recover).

    SIGUSR1 toggles pause; SIGTERM stops and saves.
    """  # noqa: E501
    console = Console()
    if list_devices:
        _print_devices(console)
        return
    if recover_file is not None:
        info = recover(recover_file)
        _say(console, f"{recover_file}: {_clock(info.duration)} of audio; its header is sound")
        return
    if out is None:
        raise ScribeError("give the file to record to, e.g. `scribe record consultation.wav`")
    if out.exists() and not force:
        raise RecordingExistsError(f"{out} already exists; choose another file name or pass --force to overwrite it")

    settings = load_settings()
    stop = threading.Event()
    recorder = Recorder(
        out,
        device=int(device) if device is not None and device.isdigit() else device,
        channels=channels,
        overwrite=force,
        max_seconds=max_minutes * 60 if max_minutes is not None else settings.max_audio_seconds,
        stream_factory=_replayed(replay, channels, speed, stop.set) if replay is not None else None,
    )
    meter_console = Console(stderr=True)
    if note is not None and not live:
        raise typer.BadParameter("--note needs --live", param_hint="--note")
    drafter = _live_drafter(settings, meter_console) if note is not None else None
    session = _LiveSession(settings, model, recorder, meter_console, drafter) if live else None
    with _signals(stop, recorder):
        recorder.start()  # raises CaptureError, leaving no file, when there is no microphone
        try:
            with _keys(stop, recorder), _live_meter(recorder, meter_console) as refresh:
                while not stop.is_set() and not recorder.finished:
                    refresh()
                    stop.wait(0.1)
        finally:
            info = recorder.stop()
    if session is not None and info.duration > 0:
        destination = transcript or out.with_suffix(".transcript.json")
        result, waited = session.result()
        write_text_atomic(destination, to_json(result))
        _say(console, f"transcript ready {waited:.1f} s after stop: {destination} ({len(result.segments)} segments)")
        if drafter is not None and note is not None:
            _finish_note(drafter, result, note, waited, console)
    if info.duration == 0:
        out.unlink(missing_ok=True)
        raise CaptureError("nothing was recorded (no audio arrived, or it stayed paused); no file was kept")
    if recorder.finished:
        _say(console, f"stopped at the maximum length of {_clock(info.duration)}", style="yellow")
    if recorder.overflows:
        _say(console, f"warning: {recorder.overflows} audio block(s) arrived late and were lost", style="yellow")
    mode = "mono" if channels == 1 else f"{channels} channels"
    _say(console, f"saved {out} ({_clock(info.duration)}, {SAMPLE_RATE // 1000} kHz {mode})")
    _say(console, f"next: scribe transcribe {out}")


def _replayed(path: Path, channels: int, speed: float, on_end: Callable[[], None]) -> Callable[..., FileInput]:
    """A stream factory playing ``path`` (decoded now, so a bad file fails before anything starts)."""
    audio = decode_file(path)
    if audio.samples.shape[0] < channels:
        raise CaptureError(f"{path} has {audio.samples.shape[0]} channel(s); replay it with --channels 1")

    def factory(**kwargs: object) -> FileInput:
        return FileInput(audio.samples.T, speed=speed, on_end=on_end, **kwargs)

    return factory


def _say(console: Console, line: str, style: str | None = None) -> None:
    """One unwrapped line (paths stay copyable), with no markup read into file names."""
    console.print(line, style=style, markup=False, highlight=False, soft_wrap=True)


def _print_devices(console: Console) -> None:
    devices = list_input_devices()
    if not devices:
        raise CaptureError("no microphone found; check a device is connected and this user may use audio devices")
    table = Table("index", "name", "channels", "default rate", "default")
    for d in devices:
        default = "*" if d.is_default else ""
        table.add_row(str(d.index), d.name, str(d.channels), f"{d.default_samplerate:g} Hz", default)
    console.print(table)


def _clock(seconds: float) -> str:
    """02:03.4, or 1:02:03.4 past an hour."""
    tenths = int(seconds * 10)
    minutes, secs = divmod(tenths / 10, 60)
    hours, minutes = divmod(int(minutes), 60)
    return f"{hours}:{minutes:02d}:{secs:04.1f}" if hours else f"{minutes:02d}:{secs:04.1f}"


def _meter(recorder: Recorder) -> Group:
    level = recorder.level
    filled = round((min(0.0, max(_METER_FLOOR_DB, level.rms_dbfs)) - _METER_FLOOR_DB) / -_METER_FLOOR_DB * _METER_WIDTH)
    colour = "red" if level.clipping else "yellow" if level.rms_dbfs > -12 else "green"
    state = Text("⏸ paused   ", style="bold yellow") if recorder.paused else Text("● recording", style="bold red")
    line = Text.assemble(
        state,
        f"  {_clock(recorder.duration)}  ",
        ("█" * filled, colour),
        ("░" * (_METER_WIDTH - filled), "dim"),
        f" {level.rms_dbfs:6.1f} dBFS  peak {level.peak_dbfs:6.1f}",
        (" CLIPPING" if level.clipping else "", "bold red"),
    )
    return Group(line, Text("Enter/p: pause or resume   Ctrl-C: stop and save", style="dim"))


def _live_drafter(settings: Settings, console: Console) -> LiveDrafter:
    """The LLM and template, loaded before recording starts so their errors come first."""
    from scribe.notes.backends import load_backend

    template = pipeline.note_template(settings)
    with console.status("loading the language model"):
        backend = load_backend(settings)
    return pipeline.live_drafter(settings, backend, template)


def _show_section(console: Console, section: NoteSection) -> None:
    """A section of the draft as soon as it is written and checked, for the clinician to start reading."""
    _say(console, f"  {section.title}", style="bold")
    for statement in section.statements:
        _say(console, f"    - {statement.text}")


def _finish_note(drafter: LiveDrafter, transcript: Transcript, out: Path, waited: float, console: Console) -> None:
    """Draft the note from the final transcript (the model already read most of it) and save it."""
    started = time.perf_counter()
    try:
        draft = drafter.finish(transcript, on_section=lambda section: _show_section(console, section))
    finally:
        drafter.backend.close()
    write_text_atomic(out, draft.model_dump_json(indent=2))
    after_stop = waited + time.perf_counter() - started
    _say(console, f"note drafted {after_stop:.1f} s after stop: {out}; a clinician must review it before use")
    if not draft.complete:
        _say(console, f"INCOMPLETE: {draft.incomplete_reason}", style="yellow")


class _LiveSession:
    """Live transcription beside the recording: a worker thread consumes the recorder's audio."""

    def __init__(
        self,
        settings: Settings,
        model: str | None,
        recorder: Recorder,
        console: Console,
        drafter: LiveDrafter | None = None,
    ) -> None:
        engine = load_engine(settings, model=model)  # loaded before recording starts, so errors come first
        transcriber = pipeline.live_transcriber(settings, engine)
        chunks = recorder.chunks()  # subscribe before start() so no audio is missed
        self._stopped_at = 0.0
        self._result: Transcript | None = None
        self._error: BaseException | None = None

        heard: list[Segment] = []

        def show(segment: Segment) -> None:
            console.print(f"[dim]{segment.start:7.1f}s[/] {segment.text}", highlight=False, soft_wrap=True)
            if drafter is not None:  # the LLM reads the transcript so far while recording goes on
                heard.append(segment)
                drafter.update(Transcript(segments=list(heard)))

        def work() -> None:
            try:
                self._result = transcribe_live(chunks, transcriber, show)
            except BaseException as exc:  # reported on the main thread by result()
                self._error = exc

        self._thread = threading.Thread(target=work, name="scribe-live-asr", daemon=True)
        self._thread.start()

    def result(self) -> tuple[Transcript, float]:
        """Wait for the transcript after the recorder stopped; return it and the seconds waited."""
        started = time.perf_counter()
        self._thread.join()
        if self._error is not None:
            if isinstance(self._error, ScribeError):
                raise self._error
            raise ScribeError(
                f"live transcription failed ({self._error}); the recording is saved, run `scribe transcribe` on it"
            )
        assert self._result is not None
        return self._result, time.perf_counter() - started


@contextlib.contextmanager
def _live_meter(recorder: Recorder, console: Console) -> Iterator[Callable[[], None]]:
    with Live(_meter(recorder), console=console, transient=True, auto_refresh=False) as live:
        yield lambda: live.update(_meter(recorder), refresh=True)


@contextlib.contextmanager
def _signals(stop: threading.Event, recorder: Recorder) -> Iterator[None]:
    """SIGINT and SIGTERM stop cleanly; SIGUSR1 toggles pause (for scripts and foot pedals)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    handlers: dict[int, Callable[..., None]] = {
        signal.SIGINT: lambda *_: stop.set(),
        signal.SIGTERM: lambda *_: stop.set(),
    }
    if hasattr(signal, "SIGUSR1"):
        handlers[signal.SIGUSR1] = lambda *_: recorder.toggle_pause()
    previous = {sig: signal.signal(sig, handler) for sig, handler in handlers.items()}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


@contextlib.contextmanager
def _keys(stop: threading.Event, recorder: Recorder) -> Iterator[None]:
    """On a terminal, read single keys without Enter: Enter, p or space toggle pause, q stops."""
    if not sys.stdin.isatty():
        yield
        return
    fd = sys.stdin.fileno()
    saved = None
    with contextlib.suppress(ImportError, OSError):
        import termios
        import tty

        saved = termios.tcgetattr(fd)
        tty.setcbreak(fd)

    def read_keys() -> None:
        while not stop.is_set():
            try:
                key = os.read(fd, 1).decode(errors="ignore")
            except OSError:
                return
            if not key:
                return
            if key in _PAUSE_KEYS:
                recorder.toggle_pause()
            elif key in ("q", "Q"):
                stop.set()

    threading.Thread(target=read_keys, name="scribe-record-keys", daemon=True).start()
    try:
        yield
    finally:
        if saved is not None:
            import termios

            termios.tcsetattr(fd, termios.TCSADRAIN, saved)
