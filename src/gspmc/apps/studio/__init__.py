"""``gspmc studio``: a local web app to record, train, enrol and recognise signs (docs/studio.md).

- :mod:`.project`: the project folder (the CLI's formats), safe names, uploads checked and stored atomically.
- :mod:`.jobs`: training runs as background ``gspmc fit`` processes whose state is on disk.
- :mod:`.live`: live recognition sessions (frames -> MediaPipe -> top-k + the running transcript).
- :mod:`.server`: the FastAPI app and ``serve``; ``static/`` holds the page (plain HTML/JS, no CDN).
"""
