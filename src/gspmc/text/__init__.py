"""gspmc.text: frozen text encoders, the embedding cache (`gspmc embed`) and the TextBank that
aligns cached description embeddings to a dataset's classes (see docs/mc.md).

Importing this package loads no model and touches no file.
"""

from gspmc.text.bank import KindBank, TextBank, build_text_bank, load_text_bank, match_classes
from gspmc.text.cache import (
    EmbeddingCache,
    UpdateReport,
    default_cache_path,
    load_cache,
    save_cache,
    text_hash,
    update_cache,
)
from gspmc.text.descriptions import DESCRIPTION_PARTS, StoreTexts, read_store_texts
from gspmc.text.encoders import (
    DEFAULT_ENCODER,
    ClipTextEncoder,
    MiniLMEncoder,
    SentenceTransformerEncoder,
    TextEncoder,
    USEMultilingualEncoder,
    get_text_encoder,
    list_text_encoders,
    register_text_encoder,
)

__all__ = [
    "DEFAULT_ENCODER",
    "DESCRIPTION_PARTS",
    "ClipTextEncoder",
    "EmbeddingCache",
    "KindBank",
    "MiniLMEncoder",
    "SentenceTransformerEncoder",
    "StoreTexts",
    "TextBank",
    "TextEncoder",
    "USEMultilingualEncoder",
    "UpdateReport",
    "build_text_bank",
    "default_cache_path",
    "get_text_encoder",
    "list_text_encoders",
    "load_cache",
    "load_text_bank",
    "match_classes",
    "read_store_texts",
    "register_text_encoder",
    "save_cache",
    "text_hash",
    "update_cache",
]
