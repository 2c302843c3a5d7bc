"""``captune publish OUT --repo-id user/name [--private] [--dry-run]``: a built dataset to the Hub.

Uploads the card, the manifest and exactly the shards, plots and failure lists the committed manifest
names (never ``llm_cache/``, nor a file a killed build left)
with ``huggingface_hub`` after checking the dataset as ``captune validate`` does; a dataset that
fails the check is not published. The token comes from ``HF_TOKEN`` or the Hugging Face cache
(``hf auth login``) and is never printed. ``--dry-run`` lists every file with its size in bytes and
makes no network call.
"""

import argparse
import os


def files_to_upload(out: str) -> list[tuple[str, int]]:
    """(path relative to ``out``, size in bytes) of every file that would be uploaded, sorted: the card,
    the manifest and what it names; raises :class:`captune.schemas.NoCommittedDataset` without one."""
    from captune.pipelines.commit import listed_files
    from captune.schemas.loader import read_manifest

    names = {"README.md", "manifest.json"} | listed_files(read_manifest(out))
    return sorted((n, os.path.getsize(os.path.join(out, n))) for n in names if os.path.isfile(os.path.join(out, n)))


def token_source() -> str | None:
    """Where the Hub token would come from (``HF_TOKEN``, or the token cache), or None; never the token."""
    from huggingface_hub import get_token

    if os.environ.get("HF_TOKEN"):
        return "the HF_TOKEN environment variable"
    return "the Hugging Face token cache" if get_token() else None


def publish(out: str, repo_id: str, *, private: bool = False, dry_run: bool = False, api=None, echo=print) -> int:
    """Upload ``out`` to the dataset repo ``repo_id`` (created if missing); 0 on success, 1 when the
    dataset fails validation or there is nothing to upload or no token. ``api``: an ``HfApi``."""
    from captune.schemas.check import check_dataset, format_report

    report = check_dataset(out)
    if not report["success"]:
        echo(format_report(out, report))
        echo("not published: the dataset fails validation")
        return 1
    files = files_to_upload(out)
    verb = "would upload" if dry_run else "uploading"
    echo(f"{verb} {len(files)} files ({sum(s for _, s in files)} bytes) to "
         f"https://huggingface.co/datasets/{repo_id} ({'private' if private else 'public'})")
    for path, size in files:
        echo(f"  {size:>12}  {path}")
    source = token_source()
    echo(f"  token: {'from ' + source if source else 'none found (set HF_TOKEN or run `hf auth login`)'}")
    if dry_run:
        return 0
    if source is None and api is None:
        return 1
    if api is None:
        from huggingface_hub import HfApi
        api = HfApi()
    api.create_repo(repo_id, repo_type="dataset", private=private, exist_ok=True)
    commit = api.upload_folder(repo_id=repo_id, repo_type="dataset", folder_path=out,
                               allow_patterns=[p for p, _ in files], commit_message="captune publish")
    echo(f"published: {getattr(commit, 'commit_url', commit)}")
    return 0


def main(argv: list[str]) -> int:
    """The ``captune publish`` command."""
    parser = argparse.ArgumentParser(prog="captune publish")
    parser.add_argument("output", metavar="OUT", help="a folder written by captune build")
    parser.add_argument("--repo-id", required=True, help="Hub dataset repo, user/name or org/name")
    parser.add_argument("--private", action="store_true", help="create the repo private")
    parser.add_argument("--dry-run", action="store_true", help="list the files, upload nothing, no network")
    args = parser.parse_args(argv)
    return publish(args.output, args.repo_id, private=args.private, dry_run=args.dry_run)
