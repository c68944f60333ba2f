"""The `craftgen` command: run a tool directly (`generate`), list tools and models."""

from __future__ import annotations

import sys
from pathlib import Path

import click
from tqdm import tqdm

from craftgen.cli_tools import ToolCommands
from craftgen.config import Settings
from craftgen.errors import CraftgenError, InvalidRequest, ModelUnavailable

EXIT_INVALID = 2
EXIT_MODEL = 3
EXIT_OTHER = 1


def _fail(error: CraftgenError) -> None:
    click.echo(f"error: {error.message}", err=True)
    if isinstance(error, InvalidRequest):
        sys.exit(EXIT_INVALID)
    sys.exit(EXIT_MODEL if isinstance(error, ModelUnavailable) else EXIT_OTHER)


@click.group()
@click.version_option(package_name="craftgen")
def main() -> None:
    """craftgen: seamless patterns, clipart with SVG cut files, variations, outpainting, upscaling."""


class _Progress:
    """A tqdm bar on stderr fed by the engine's (done, total) callbacks."""

    def __init__(self, tool: str) -> None:
        self.bar = tqdm(total=1, desc=tool, unit="step", file=sys.stderr, leave=True)

    def __call__(self, done: int, total: int) -> None:
        if self.bar.total != total:
            self.bar.total = total
        self.bar.n = done
        self.bar.refresh()

    def close(self) -> None:
        self.bar.close()


def _generate(tool: str, out_dir: Path, files: dict[str, Path], fields: dict[str, object]) -> None:
    """Run one tool here and write its files and result.json to the out folder."""
    try:
        _run_tool(Settings(), tool=tool, out_dir=out_dir, files=files, fields=fields)
    except CraftgenError as error:
        _fail(error)


generate = ToolCommands(
    "generate",
    run=_generate,
    help="Run a tool once, here, and write its files and result.json to --out.",
)
main.add_command(generate)


def _run_tool(
    settings: Settings, *, tool: str, out_dir: Path, files: dict[str, Path], fields: dict[str, object]
) -> None:
    from craftgen.engine.engine import Engine  # torch and diffusers load only when needed
    from craftgen.engine.requests import parse_request
    from craftgen.engine.tiny import TINY_NOTICE
    from craftgen.imaging.io import open_image
    from craftgen.outputs import write_result

    limits = settings.limits()
    # 1. Validate everything before any work (and before anything is written).
    decoded = {}
    for name, path in files.items():
        if not path.is_file():
            raise InvalidRequest(f"{name} file not found: {path}", field=name)
        try:
            decoded[name] = open_image(
                path.read_bytes(), max_bytes=limits.max_upload_bytes, max_pixels=limits.max_upload_pixels, field=name
            )
        except InvalidRequest as error:  # say which of the files it was
            raise InvalidRequest(f"{name} {path}: {error.message}", field=name) from None
    request = parse_request({"tool": tool, **fields, **{name: str(path) for name, path in files.items()}})
    engine = Engine(options=settings.engine_options(), limits=limits)
    item = engine.prepare(request, files=decoded)
    if getattr(item.request, "model", None) == "tiny":
        click.echo(f"note: {TINY_NOTICE}", err=True)
    # 2. Run with a progress bar.
    progress = _Progress(tool)
    try:
        result = engine.run_batch([item], progress=progress)[0]
    finally:
        progress.close()
    # 3. Write all files, then result.json.
    settings_used = item.request.model_dump(exclude_none=True, exclude=set(files))
    record = write_result(result, out_dir, settings=settings_used)
    for warning in record.warnings:
        click.echo(f"warning: {warning}", err=True)
    click.echo(str(out_dir / "result.json"))


def _announce_model(settings: Settings) -> None:
    from craftgen.engine.tiny import TINY_NOTICE

    click.echo(f"craftgen: serving model {settings.model!r}", err=True)
    if settings.model == "tiny":
        click.echo(f"craftgen: note: {TINY_NOTICE}", err=True)


def _serve_http(settings: Settings, *, host: str, port: int, processes: int = 1) -> None:
    import uvicorn

    click.echo(f"craftgen: API on http://{host}:{port} (docs at /docs)", err=True)
    if processes > 1:
        # Each process builds its own app (and its own change feed) from the same environment.
        uvicorn.run(
            "craftgen.app:app_from_environment",
            factory=True,
            host=host,
            port=port,
            workers=processes,
            log_level="warning",
        )
        return
    from craftgen.app import create_app
    from craftgen.runtime import build_runtime

    app = create_app(build_runtime(settings))
    uvicorn.run(app, host=host, port=port, log_level="warning")


@main.command()
@click.option("--host", default=None, help="default: CRAFTGEN_HOST or 127.0.0.1")
@click.option("--port", type=int, default=None, help="default: CRAFTGEN_PORT or 8000")
@click.option("--workers", type=int, default=1, show_default=True, help="worker processes to start")
def serve(host: str | None, port: int | None, workers: int) -> None:
    """The whole service on this machine: the API plus worker processes, SQLite, local files."""
    from craftgen.db.migrate import migrate
    from craftgen.db.session import make_engine
    from craftgen.processes import exit_on_signals, start_workers, stop_workers

    settings = Settings()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    migrate(make_engine(settings.resolved_database_url()))  # once, before the workers start
    _announce_model(settings)
    exit_on_signals()
    children = start_workers(workers)
    try:
        _serve_http(settings, host=host or settings.host, port=port or settings.port)
    finally:
        stop_workers(children)


@main.command()
@click.option("--host", default=None, help="default: CRAFTGEN_HOST or 127.0.0.1")
@click.option("--port", type=int, default=None, help="default: CRAFTGEN_PORT or 8000")
@click.option(
    "--processes", type=click.IntRange(min=1), default=1, show_default=True, help="API processes (one per core)"
)
def api(host: str | None, port: int | None, processes: int) -> None:
    """The HTTP API alone (stateless; run as many as you like)."""
    settings = Settings()
    _announce_model(settings)
    _serve_http(settings, host=host or settings.host, port=port or settings.port, processes=processes)


@main.command()
@click.option("--name", default=None, help="worker name in leases (default: host-pid)")
def worker(name: str | None) -> None:
    """One worker: claims batches of jobs and runs them (one per GPU)."""
    from craftgen.processes import run_worker_process

    settings = Settings()
    _announce_model(settings)
    run_worker_process(settings, name=name)


@main.group()
def users() -> None:
    """Manage users (admin)."""


@users.command("create")
@click.argument("name")
@click.option("--plan", type=click.Choice(["free", "pro"]), default="free", show_default=True)
@click.option("--role", type=click.Choice(["user", "admin"]), default="user", show_default=True)
@click.option(
    "--password", "ask_password", is_flag=True, help="also set a password for the web sign-in (asked for, not echoed)"
)
def users_create(name: str, plan: str, role: str, ask_password: bool) -> None:
    """Create a user and print their API key (shown only once)."""
    from craftgen.accounts import create_user
    from craftgen.db.migrate import migrate
    from craftgen.db.session import make_engine, make_sessions

    settings = Settings()
    password = click.prompt("Password", hide_input=True, confirmation_prompt=True, err=True) if ask_password else None
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    db = make_engine(settings.resolved_database_url())
    migrate(db)
    try:
        _, key = create_user(
            make_sessions(db),
            name=name,
            plan=plan,
            role=role,
            password=password,
            min_password_length=settings.min_password_length,
        )
    except CraftgenError as error:
        _fail(error)
    click.echo(key)


@main.group()
def fleet() -> None:
    """The GPU fleet: the autoscaling rule in deploy/k8s, simulated."""


@fleet.command("simulate")
@click.option("--manifests", type=click.Path(path_type=Path, file_okay=False), default=Path("deploy/k8s"),
              show_default=True, help="the folder with keda.yaml, worker.yaml and config.yaml")  # fmt: skip
@click.option("--arrivals", type=click.Path(path_type=Path, dir_okay=False), default=None,
              help="CSV of time,jobs_per_minute (default: the shipped day, craftgen/fleet/day.csv)")  # fmt: skip
@click.option("--out", "out_dir", type=click.Path(path_type=Path, file_okay=False), default=Path("out/fleet"),
              show_default=True)  # fmt: skip
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--rate-scale", type=float, default=1.0, show_default=True, help="multiply every arrival rate")
@click.option("--spot-interruptions", type=float, default=None, help="per spot instance-hour (default 0.05)")
@click.option("--node-seconds", type=float, default=None, help="node provisioning (default 225; AWS claims 120)")
@click.option("--image-pull-seconds", type=float, default=None, help="worker image pull (default 323)")
@click.option("--on-demand-price", type=float, default=None, help="$ per GPU-hour (default 1.006)")
@click.option("--spot-price", type=float, default=None, help="$ per GPU-hour (default 0.40)")
def fleet_simulate(out_dir: Path, **options: float | Path | None) -> None:
    """Compare a static fleet, KEDA as shipped and its pre-warm and spot variants over a day."""
    from craftgen.fleet.command import cli_simulate

    cli_simulate(out_dir=out_dir, **options)


@main.command("tools")
def list_tools() -> None:
    """List the tools."""
    from craftgen.engine.tools import TOOLS

    for tool in TOOLS.values():
        click.echo(f"{tool.name}\t{tool.card.makes}")


@main.command("models")
def list_models() -> None:
    """List the models the registry names (any folder or file path also works)."""
    from craftgen.engine.registry import ModelRegistry

    settings = Settings()
    try:
        registry = ModelRegistry.load(settings.model_registry, default=settings.model)
    except CraftgenError as error:
        _fail(error)
    for name in registry.names():
        marker = " (default)" if name == registry.default else ""
        click.echo(f"{name}{marker}")


if __name__ == "__main__":
    main()
