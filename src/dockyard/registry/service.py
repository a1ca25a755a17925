"""Registry operations: what each endpoint does, independent of HTTP."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dockyard.digests import Digest
from dockyard.events import Dispatcher
from dockyard.registry.errors import ErrorCode, RegistryError
from dockyard.registry.events import ManifestPulled, PullListeners
from dockyard.registry.gc import delete_untagged
from dockyard.registry.manifests import INDEX_TYPES, OCI_INDEX, parse_manifest
from dockyard.registry.pullthrough import BlobStream, PullThrough
from dockyard.registry.records import Actor, Descriptor, ManifestPut, Page, StoredManifest
from dockyard.registry.reference import is_digest, lookup_reference, parse_digest, validate_tag
from dockyard.registry.space import DiskRoom
from dockyard.registry.store import MetadataStore
from dockyard.registry.tag_rules import TagRules
from dockyard.registry.uploads import UploadService
from dockyard.storage import PathNotFound, StorageDriver, StorageError, paths

DEFAULT_PLATFORM = ("linux", "amd64")
log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class BlobLocation:
    digest: Digest
    size: int | None  # None only for a blob streaming from an upstream that did not say
    path: str
    local_file: Path | None
    upstream: BlobStream | None = None  # set when the bytes come from a pull-through cache


@dataclass(frozen=True, slots=True)
class PutManifestResult:
    digest: str
    subject: str | None


class Registry:
    def __init__(
        self,
        storage: StorageDriver,
        store: MetadataStore,
        max_manifest_bytes: int,
        room: DiskRoom | None = None,
        dispatcher: Dispatcher | None = None,
    ) -> None:
        self.storage = storage
        self.store = store
        self.room = room or DiskRoom()
        self.uploads = UploadService(storage, store, self.room)
        self.tag_rules = TagRules(store)  # immutable tags, enforced in put_manifest's transaction
        self.max_manifest_bytes = max_manifest_bytes
        self.pulls = PullListeners()
        # Handles the events the store writes; told of each, so this process's are handled at once.
        self.dispatcher = dispatcher
        self.pull_through: PullThrough | None = None  # proxy namespaces (registry/pullthrough.py)

    # -- blobs --------------------------------------------------------------------------

    async def blob(self, repository: str, digest: Digest, *, head: bool = False) -> BlobLocation:
        size = await self.store.linked_blob_size(repository, str(digest))
        path = paths.blob_data(digest)
        source = None if size is not None else await self._pulled_through(repository)
        if source is not None:  # the pull-through hook for blobs
            assert self.pull_through is not None
            size = await self.store.linked_blob_size(source, str(digest))
            fetched = None if size is not None else await self.pull_through.blob(source, digest, head=head)
            if fetched is not None:
                return BlobLocation(digest, fetched.size, path, None, fetched)
            size = size if size is not None else await self.store.linked_blob_size(source, str(digest))
        if size is None:
            raise RegistryError(ErrorCode.BLOB_UNKNOWN, {"digest": str(digest)})
        return BlobLocation(digest, size, path, self.storage.local_file(path))

    async def _proxied(self, repository: str) -> bool:
        return self.pull_through is not None and await self.pull_through.proxies(repository)

    async def _pulled_through(self, repository: str) -> str | None:
        """The proxied repository a miss in ``repository`` is answered from: itself in a proxy
        namespace, the instance mirror's copy for a name this registry does not hold, else None."""
        if self.pull_through is None:
            return None
        if await self.pull_through.proxies(repository):
            return repository
        mirrored = await self.pull_through.mirror_for(repository)
        if mirrored is None or await self.store.repository_identity(repository) is not None:
            return None
        return mirrored

    async def check_not_proxied(self, repository: str) -> None:
        """A proxied repository takes no pushes or deletes, whoever asks: it mirrors its upstream."""
        if await self._proxied(repository):
            raise RegistryError(
                ErrorCode.DENIED,
                {"name": repository},
                message="requested access to the resource is denied: a proxy namespace is read-only",
            )

    async def delete_blob(self, repository: str, digest: Digest) -> None:
        await self.check_not_proxied(repository)
        if not await self.room.deleting(lambda: self.store.unlink_blob(repository, str(digest))):
            raise RegistryError(ErrorCode.BLOB_UNKNOWN, {"digest": str(digest)})

    async def mount(self, repository: str, digest: Digest, sources: list[str]) -> int | None:
        """Link a blob another readable repository has; None when none has it."""
        await self.check_not_proxied(repository)
        for source in sources:
            if await self.store.linked_blob_size(source, str(digest)) is None:
                continue
            try:
                await self.storage.stat(paths.blob_data(digest))
            except PathNotFound:
                return None
            await self.room.check_writable()
            # Links only while the blob's row stands unmarked by a collector (registry/ledger.py).
            return await self.uploads.ledger.mount(repository, source, str(digest))
        return None

    async def touch_blob(self, repository: str, digest: Digest) -> None:
        """A client checking the blob exists (HEAD) is about to reference it: keep it young."""
        await self.uploads.ledger.touch(repository, str(digest))

    # -- manifests ----------------------------------------------------------------------

    async def put_manifest(
        self,
        repository: str,
        reference: str,
        content: bytes,
        content_type: str | None,
        extra_tags: list[str],
        actor: Actor | str | None = None,
    ) -> PutManifestResult:
        await self.check_not_proxied(repository)
        tag_names = [validate_tag(t) for t in extra_tags]
        if is_digest(reference):
            expected = parse_digest(reference)
            digest = Digest.of(content, expected.algorithm)
            if digest != expected:
                raise RegistryError(
                    ErrorCode.DIGEST_INVALID, {"expected": reference, "computed": str(digest)}
                )
        else:
            tag_names.insert(0, validate_tag(reference))
            digest = Digest.of(content)
        parsed = parse_manifest(content, content_type)
        await self.room.check_writable()
        who = _actor(actor)
        tags = tuple(dict.fromkeys(tag_names))
        put = ManifestPut(repository, str(digest), content, parsed, tags, who.name, who.ip)
        await self.store.put_manifest(put)
        self._notify()
        return PutManifestResult(str(digest), parsed.subject.digest if parsed.subject else None)

    def _notify(self) -> None:
        if self.dispatcher is not None:
            self.dispatcher.notify()

    async def pull_manifest(
        self, repository: str, reference: str, accepted: frozenset[str] | None, actor: str | None
    ) -> StoredManifest:
        """A GET: the manifest, counted as a pull (of the repository that served it: the instance
        mirror's copy for a name it answers)."""
        found, served = await self._manifest(repository, reference, accepted)
        tag = None if is_digest(reference) else reference
        self.pulls.publish(ManifestPulled(served, found.digest, tag, actor))
        return found

    async def manifest(
        self, repository: str, reference: str, accepted: frozenset[str] | None
    ) -> StoredManifest:
        """A GET or HEAD. A reference that is neither a tag nor a digest names nothing that could
        exist, so it is 404 MANIFEST_UNKNOWN (the conformance suite's ``.INVALID_MANIFEST_NAME``)."""
        return (await self._manifest(repository, reference, accepted))[0]

    async def _manifest(
        self, repository: str, reference: str, accepted: frozenset[str] | None
    ) -> tuple[StoredManifest, str]:
        found = await self._lookup(repository, reference)
        proxied = repository if await self._proxied(repository) else None
        if proxied is None and found is None:
            proxied = await self._pulled_through(repository)
        if proxied is not None:  # the pull-through hook for manifests
            assert self.pull_through is not None
            cached = found if proxied == repository else await self._lookup(proxied, reference)
            found = await self.pull_through.manifest(proxied, reference, cached)
        if found is None:
            raise RegistryError(ErrorCode.MANIFEST_UNKNOWN, {"reference": reference})
        served = proxied or repository
        if accepted is None or found.media_type in accepted:
            return found, served
        return await self._fallback(served, found, accepted), served

    async def _lookup(self, repository: str, reference: str) -> StoredManifest | None:
        match lookup_reference(reference):
            case Digest() as digest:
                return await self.store.manifest_by_digest(repository, str(digest))
            case str() as tag:
                return await self.store.manifest_by_tag(repository, tag)
        return None

    async def _fallback(
        self, repository: str, found: StoredManifest, accepted: frozenset[str]
    ) -> StoredManifest:
        """A client that cannot read an index gets the default platform's image, as docker does."""
        if found.media_type in INDEX_TYPES:
            for child in json.loads(found.content).get("manifests", []):
                platform = child.get("platform") or {}
                if (platform.get("os"), platform.get("architecture")) != DEFAULT_PLATFORM:
                    continue
                image = await self.store.manifest_by_digest(repository, child["digest"])
                if image is not None and image.media_type in accepted:
                    return image
        raise RegistryError(
            ErrorCode.MANIFEST_UNKNOWN,
            {"media_type": found.media_type},
            message=f"manifest is {found.media_type}, which the Accept header does not allow",
        )

    async def delete_manifest(
        self, repository: str, reference: str, actor: Actor | str | None = None
    ) -> None:
        await self.check_not_proxied(repository)
        who = _actor(actor)
        if is_digest(reference):
            digest = str(parse_digest(reference))
            deleted = await self.room.deleting(lambda: self.store.delete_manifest(repository, digest, who))
        else:
            tag = validate_tag(reference)
            deleted = await self.room.deleting(lambda: self.store.delete_tag(repository, tag, who))
        if not deleted:
            raise RegistryError(ErrorCode.MANIFEST_UNKNOWN, {"reference": reference})
        await self._settle(repository)

    async def delete_tag_if(
        self, repository: str, tag: str, digest: str, actor: Actor | str | None = None
    ) -> bool:
        """Untag only while ``tag`` still points at ``digest`` (with its ``tag.deleted`` event);
        False when it moved or went. The events worker handles the event (no settling here: a
        retention run deletes many tags, and waits for none of their handlers)."""
        who = _actor(actor)
        store = self.store
        deleted = await self.room.deleting(lambda: store.delete_tag_pointing(repository, tag, digest, who))
        if deleted:
            self._notify()
        return deleted

    async def delete_untagged_manifest(
        self, repository: str, digest: str, actor: Actor | str | None = None
    ) -> bool:
        """Delete a manifest only while nothing keeps it (registry/gc.py); False when kept or gone."""
        who, store = _actor(actor), self.store
        deleted = await self.room.deleting(lambda: delete_untagged(store, repository, digest, who))
        if deleted:
            self._notify()
        return deleted

    # -- repositories -------------------------------------------------------------------

    async def delete_repository(self, repository: str, actor: Actor | str | None = None) -> bool:
        """Delete the repository and everything of it in the registry, in one transaction with its
        ``repository.deleted`` event; False when there is none. Then its upload sessions end, and
        the event's handlers run before this returns (its webhooks, stars, build link are gone
        when the caller answers), here or, if that fails, in the ``events`` worker.

        The session ending is best effort: a session left behind can never complete (it belongs
        to the deleted incarnation) and the janitor removes it once stale."""
        who = _actor(actor)
        if not await self.room.deleting(lambda: self.store.delete_repository(repository, who)):
            return False
        try:
            await self.uploads.end_repository(repository)
        except StorageError:
            log.warning("could not end the upload sessions of deleted %s", repository, exc_info=True)
        await self._settle(repository)
        return True

    async def _settle(self, repository: str) -> None:
        """Run the handlers of a deletion before answering (deletions are rare; their effects,
        such as the audit row or a webhook gone, are then visible to the caller at once)."""
        if self.dispatcher is None:
            return
        try:
            await self.dispatcher.drain()
        except Exception:  # committed: the events worker handles it later
            log.exception("could not handle a deletion in %s now; the events worker will", repository)

    # -- discovery ----------------------------------------------------------------------

    async def tags(self, repository: str, limit: int | None, last: str | None) -> Page:
        page = await self.store.tags(repository, limit, last)
        if page is None:
            raise RegistryError(ErrorCode.NAME_UNKNOWN, {"name": repository})
        return page

    async def referrers(self, repository: str, subject: Digest, artifact_type: str | None) -> dict[str, Any]:
        descriptors = []
        for stored in await self.store.referrers(repository, str(subject)):
            descriptor = _referrer_descriptor(stored)
            if artifact_type is None or descriptor.artifact_type == artifact_type:
                descriptors.append(descriptor.to_json())
        return {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": descriptors}


def _actor(actor: Actor | str | None) -> Actor:
    """A bare name (the hub's and tests' callers) is an actor without an address."""
    return actor if isinstance(actor, Actor) else Actor(actor)


def _referrer_descriptor(stored: StoredManifest) -> Descriptor:
    parsed = parse_manifest(stored.content, stored.media_type)
    return Descriptor(
        stored.media_type,
        stored.digest,
        stored.size,
        artifact_type=parsed.artifact_type,
        annotations=parsed.annotations or None,
    )
