import types

import squall


def test_all_exports_exist_and_nothing_else_is_public() -> None:
    for name in squall.__all__:
        assert hasattr(squall, name), name
    public = {
        n
        for n in dir(squall)
        if not n.startswith("_") and not isinstance(getattr(squall, n), types.ModuleType)
    }
    assert public <= set(squall.__all__)
