"""The languages of mLAMA (Kassner et al., 2021): its 53 folder names, ISO 639-1 codes plus Cebuano."""

MLAMA_LANGUAGES = frozenset(
    "af ar az be bg bn ca ceb cs cy da de el en es et eu fa fi fr ga gl he hi hr hu hy id it ja ka "
    "ko la lt lv ms nl pl pt ro ru sk sl sq sr sv ta th tr uk ur vi zh".split()
)
