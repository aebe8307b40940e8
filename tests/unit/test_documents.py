from clearway.domain.documents import merge_one_level, project_fields


def test_projection_keeps_id_and_dotted_paths():
    doc = {"id": "t1", "name": "n", "runtime": {"version": "1.0.0", "other": 1}, "script": {"requirements": {}}}
    assert project_fields(doc, ["runtime.version"]) == {"id": "t1", "runtime": {"version": "1.0.0"}}
    assert project_fields(doc, ["name", "script.requirements"]) == {
        "id": "t1",
        "name": "n",
        "script": {"requirements": {}},
    }


def test_projection_keeps_existing_parent_when_leaf_is_missing():
    # Dataset.create reads task.runtime.get("version") and crashes on None (wire contract section 8).
    assert project_fields({"id": "t", "runtime": {}}, ["runtime.version"]) == {"id": "t", "runtime": {}}
    assert project_fields({"id": "t"}, ["runtime.version"]) == {"id": "t"}


def test_projection_without_fields_returns_everything():
    doc = {"id": "x", "a": 1}
    assert project_fields(doc, None) is doc


def test_merge_one_level_merges_embedded_documents_and_replaces_the_rest():
    current = {"script": {"a": 1, "b": 2}, "hyperparams": {"General": {"x": 1}}, "name": "old"}
    update = {"script": {"b": 3}, "hyperparams": {"Args": {}}, "name": "new"}
    merged = merge_one_level(current, update, frozenset({"hyperparams"}))
    assert merged == {"script": {"a": 1, "b": 3}, "hyperparams": {"Args": {}}, "name": "new"}
    assert current["script"] == {"a": 1, "b": 2}
