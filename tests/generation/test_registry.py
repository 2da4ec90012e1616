"""Gold images in a registry: the reference exports start FROM, the push of the node that built the image, the
pull of a node that lacks it, all against a real registry on 127.0.0.1."""

from __future__ import annotations

import contextlib
import uuid

import pytest
from docker.errors import DockerException

from cligym.docker_connection import docker_client
from cligym.errors import CligymError
from cligym.generation.export import gold_image_reference, push_gold_image
from cligym.generation.gold import GoldRecord
from cligym.generation.gold.build import image_exists
from cligym.generation.remote_units import GoldOnNode, ensure_gold_image
from cligym.model_server import free_port
from cligym.settings import load_settings
from tests.conftest import registry_api
from tests.generation.conftest import ValidatedTask

pytestmark = [pytest.mark.docker, pytest.mark.slow]


def test_the_reference_is_the_gold_images_name_under_the_registry(validated_task: ValidatedTask) -> None:
    gold = validated_task.gold
    name, tag = gold.image.tag.split(":")
    assert gold_image_reference(gold, "registry.example.com") == f"registry.example.com/{name}:{tag}"
    assert gold_image_reference(gold, "https://registry.example.com:5000/team/") == (
        f"registry.example.com:5000/team/{name}:{tag}"
    )


@pytest.mark.parametrize("registry", ["", "Registry.Example.com", "registry.example.com/a b", "host:port"])
def test_a_registry_docker_cannot_name_is_a_clear_error(validated_task: ValidatedTask, registry: str) -> None:
    with pytest.raises(CligymError, match="is not a registry"):
        gold_image_reference(validated_task.gold, registry)


def test_pushing_puts_the_gold_image_itself_in_the_registry(
    validated_task: ValidatedTask, registry_reference: str, local_registry: str
) -> None:
    gold = validated_task.gold
    name, tag = gold.image.tag.split(":")
    assert registry_reference == f"{local_registry}/team/{name}:{tag}"
    assert tag in registry_api(local_registry, f"team/{name}/tags/list")["tags"]
    manifest = registry_api(local_registry, f"team/{name}/manifests/{tag}")
    assert manifest["config"]["digest"] == gold.image.id  # the image's id is its configuration's digest
    assert len(manifest["layers"]) == len(docker_client().images.get(gold.image.tag).attrs["RootFS"]["Layers"])


def _renamed(gold: GoldRecord) -> GoldRecord:
    """The gold record as another node sees it before it has the image: a tag this daemon does not hold."""
    tag = f"cligym/gold-elsewhere-{uuid.uuid4().hex[:8]}:{gold.spec_hash[:12]}"
    return gold.model_copy(update={"image": gold.image.model_copy(update={"tag": tag})})


def test_a_node_without_the_gold_image_pulls_it_from_the_registry(
    validated_task: ValidatedTask, registry_reference: str
) -> None:
    renamed = _renamed(validated_task.gold)
    assert not image_exists(renamed.image.tag)
    try:
        # No build context: a node that has the registry's copy never builds.
        ensure_gold_image(GoldOnNode(renamed, b"", registry_reference), load_settings())
        assert docker_client().images.get(renamed.image.tag).id == validated_task.gold.image.id
    finally:
        with contextlib.suppress(DockerException):
            docker_client().images.remove(renamed.image.tag)


def test_an_unreachable_registry_is_a_clear_error_for_the_push_and_the_pull(validated_task: ValidatedTask) -> None:
    nowhere = f"127.0.0.1:{free_port()}"  # nothing listens there
    reference = gold_image_reference(validated_task.gold, nowhere)
    try:
        with pytest.raises(CligymError, match=f"pushing {reference} failed") as refused:
            push_gold_image(validated_task.gold, nowhere)
        assert refused.value.hint and "reachable" in refused.value.hint
    finally:
        with contextlib.suppress(DockerException):
            docker_client().images.remove(reference)
    renamed = _renamed(validated_task.gold)
    with pytest.raises(CligymError, match=f"cannot pull the gold image {reference}"):
        ensure_gold_image(GoldOnNode(renamed, b"", reference), load_settings())
    assert not image_exists(renamed.image.tag)
