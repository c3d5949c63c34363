import squall


def test_all_exports_exist_and_nothing_private_leaks() -> None:
    for name in squall.__all__:
        assert hasattr(squall, name), name
    public = {n for n in dir(squall) if not n.startswith("_")}
    modules = {"errors", "spec", "runtime", "session", "state", "cli", "sqlite", "images"}
    assert public - modules <= set(squall.__all__)
