"""transcribe: podcast and video transcripts, linked to the outlet's articles.

The stages, in order: fetch (yt-dlp), speech (Whisper), articles (trafilatura), linking,
render (jinja2). The catalog (SQLite) records what each stage did.
"""

__version__ = "0.1.0"
