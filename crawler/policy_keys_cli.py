"""``tdmguard policy keys``: the Web Bot Auth signing key and its public directory."""

from __future__ import annotations

from pathlib import Path

import click

from tdmguard.crawler.clitools import CONTEXT_SETTINGS, fail
from tdmguard.crawler.output import emit, output_options, render
from tdmguard.policy.keys import (
    DIRECTORY_PATH,
    MEDIA_TYPE,
    SigningKeyError,
    load_or_generate,
    public_jwk,
    write_directory,
)

DEFAULT_KEY = "tdmguard-signing-key.pem"


def _inside(path: Path, folder: Path) -> bool:
    return path.resolve().is_relative_to(folder.resolve())


@click.command(context_settings=CONTEXT_SETTINGS)
@click.option("--output-dir", required=True, type=click.Path(file_okay=False),
              help="The disclosure directory: the key directory is written to "
              f"DIR/{DIRECTORY_PATH}.")
@click.option("--key", "key_paths", multiple=True, type=click.Path(dir_okay=False),
              metavar="PATH",
              help=f"Ed25519 private key file (PEM), made (mode 0600) when missing "
              f"[default: {DEFAULT_KEY}]. Repeat to publish several keys while rotating: "
              "the new one beside the old until every crawler signs with the new one.")
@output_options
def keys(output_dir: str, key_paths: tuple[str, ...], fmt: str) -> None:
    """Make the crawler's signing key if it does not exist yet, and write the
    public key directory (a JWK Set, each key's RFC 7638 thumbprint as "kid")
    that signed requests point to (Web Bot Auth). Publish the directory at
    https://YOUR-HOST/.well-known/http-message-signatures-directory and crawl
    with TDMGUARD_SIGNING_KEY=PATH and TDMGUARD_SIGNATURE_AGENT=https://YOUR-HOST.
    The private key never goes into the output directory.

    \b
    Example:
        tdmguard policy keys --output-dir public/
        tdmguard policy keys --output-dir public/ --key old.pem --key new.pem
    """
    out = Path(output_dir)
    loaded, records = [], []
    for path in key_paths or (DEFAULT_KEY,):
        if _inside(Path(path), out):
            raise fail(f"--key {path} is inside --output-dir {output_dir}: the private key "
                       "would be published; keep it elsewhere")
        try:
            key, made = load_or_generate(path)
        except SigningKeyError as exc:
            raise fail(f"--key: {exc}") from None
        loaded.append(key)
        records.append({"keyid": public_jwk(key)["kid"], "key_file": path, "generated": made})
    try:
        target = write_directory(out, loaded)
    except OSError as exc:
        raise fail(f"--output-dir {output_dir}: cannot write the key directory: "
                   f"{exc.strerror or exc}") from None
    for record in records:
        record["directory"] = str(target)
    emit(render(records, fmt))
    click.echo(f"Publish {target} at https://YOUR-HOST/{DIRECTORY_PATH} (Content-Type: "
               f"{MEDIA_TYPE}).", err=True)
