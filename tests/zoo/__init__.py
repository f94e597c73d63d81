"""The zoo: hostile and broken targets on 127.0.0.1, and a way to run the suite against them.

- `server.ZooServer`: a raw-socket target that runs one handler per connection and stops by
  itself (end of its `with` block or of its lifetime);
- `behaviours`: the handlers, one per way a target can be broken or hostile;
- `run.run_suite`: `pytest --target-url=...` in a fresh folder, as users run it, with its
  outputs, wall time and peak memory.

`tests/test_zoo.py` runs every behaviour through the live suite (and `replay`).
"""
