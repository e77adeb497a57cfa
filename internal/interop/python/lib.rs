//! Nothing but a home for `tests/asyncio.rs`, which runs `test_asyncio.py` (Python's asyncio
//! loop awaiting thousands of Rust tasks through `rawtask_asyncio.py`) against the bridge's
//! cdylib. See the README's "Foreign event loops".
