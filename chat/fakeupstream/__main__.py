"""`python -m chat.fakeupstream --port 8765 [flags]` — no Django needed."""

from .server import main

if __name__ == "__main__":
    main()
