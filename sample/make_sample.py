"""Write the bundled sample: facts in the mLAMA layout and WikiExtractor-style text, for en, fr, de,
and a template set of paraphrases (each relation's second sentence pattern as a template).

All templates and texts were written for factroots. Every fact says in which languages' text it is
stated; the script checks that the METHOD.md presence rule (subject and object labels in one
document, after NFKC and case folding) finds those facts and no others. Run: python sample/make_sample.py
"""

import json
import unicodedata
import uuid
from pathlib import Path

HERE = Path(__file__).resolve().parent
LANGS = ("en", "fr", "de")
PARAPHRASE_ID = "text-2"  # template_id of the sample's template set
UUID_NAMESPACE = uuid.UUID("6f1c2a4e-3b5d-4e8f-9a7c-1d2e3f405162")

ENTITIES = {  # Wikidata id: (en, fr, de)
    # countries
    "Q142": ("France", "France", "Frankreich"),
    "Q183": ("Germany", "Allemagne", "Deutschland"),
    "Q38": ("Italy", "Italie", "Italien"),
    "Q29": ("Spain", "Espagne", "Spanien"),
    "Q45": ("Portugal", "Portugal", "Portugal"),
    "Q31": ("Belgium", "Belgique", "Belgien"),
    "Q17": ("Japan", "Japon", "Japan"),
    "Q159": ("Russia", "Russie", "Russland"),
    "Q36": ("Poland", "Pologne", "Polen"),
    "Q40": ("Austria", "Autriche", "Österreich"),
    "Q20": ("Norway", "Norvège", "Norwegen"),
    "Q34": ("Sweden", "Suède", "Schweden"),
    "Q35": ("Denmark", "Danemark", "Dänemark"),
    "Q33": ("Finland", "Finlande", "Finnland"),
    "Q41": ("Greece", "Grèce", "Griechenland"),
    "Q79": ("Egypt", "Égypte", "Ägypten"),
    "Q28": ("Hungary", "Hongrie", "Ungarn"),
    "Q213": ("Czech Republic", "Tchéquie", "Tschechien"),
    "Q16": ("Canada", "Canada", "Kanada"),
    "Q27": ("Ireland", "Irlande", "Irland"),
    "Q43": ("Turkey", "Turquie", "Türkei"),
    # cities
    "Q90": ("Paris", "Paris", "Paris"),
    "Q64": ("Berlin", "Berlin", "Berlin"),
    "Q220": ("Rome", "Rome", "Rom"),
    "Q2807": ("Madrid", "Madrid", "Madrid"),
    "Q597": ("Lisbon", "Lisbonne", "Lissabon"),
    "Q239": ("Brussels", "Bruxelles", "Brüssel"),
    "Q1490": ("Tokyo", "Tokyo", "Tokio"),
    "Q649": ("Moscow", "Moscou", "Moskau"),
    "Q270": ("Warsaw", "Varsovie", "Warschau"),
    "Q1741": ("Vienna", "Vienne", "Wien"),
    "Q585": ("Oslo", "Oslo", "Oslo"),
    "Q1524": ("Athens", "Athènes", "Athen"),
    "Q85": ("Cairo", "Le Caire", "Kairo"),
    "Q1781": ("Budapest", "Budapest", "Budapest"),
    "Q1930": ("Ottawa", "Ottawa", "Ottawa"),
    "Q1761": ("Dublin", "Dublin", "Dublin"),
    "Q1726": ("Munich", "Munich", "München"),
    "Q1055": ("Hamburg", "Hambourg", "Hamburg"),
    "Q456": ("Lyon", "Lyon", "Lyon"),
    "Q23482": ("Marseille", "Marseille", "Marseille"),
    "Q490": ("Milan", "Milan", "Mailand"),
    "Q2634": ("Naples", "Naples", "Neapel"),
    "Q1492": ("Barcelona", "Barcelone", "Barcelona"),
    "Q8717": ("Seville", "Séville", "Sevilla"),
    "Q36433": ("Porto", "Porto", "Porto"),
    "Q31487": ("Kraków", "Cracovie", "Krakau"),
    "Q25287": ("Gothenburg", "Göteborg", "Göteborg"),
    "Q35765": ("Osaka", "Osaka", "Osaka"),
    "Q12892": ("Antwerp", "Anvers", "Antwerpen"),
    "Q13298": ("Graz", "Graz", "Graz"),
    "Q34713": ("Salzburg", "Salzbourg", "Salzburg"),
    "Q3012": ("Ulm", "Ulm", "Ulm"),
    "Q586": ("Bonn", "Bonn", "Bonn"),
    "Q8851": ("Málaga", "Malaga", "Málaga"),
    "Q1085": ("Prague", "Prague", "Prag"),
    "Q7070": ("Eisenach", "Eisenach", "Eisenach"),
    "Q13375": ("Pisa", "Pise", "Pisa"),
    "Q3138": ("Trier", "Trèves", "Trier"),
    "Q40104": ("Ajaccio", "Ajaccio", "Ajaccio"),
    "Q82884": ("Vinci", "Vinci", "Vinci"),
    "Q72259": ("Portsmouth", "Portsmouth", "Portsmouth"),
    "Q189288": ("Stratford-upon-Avon", "Stratford-upon-Avon", "Stratford-upon-Avon"),
    "Q37776": ("Besançon", "Besançon", "Besançon"),
    "Q47554": ("Toruń", "Toruń", "Thorn"),
    # people
    "Q254": ("Wolfgang Amadeus Mozart", "Wolfgang Amadeus Mozart", "Wolfgang Amadeus Mozart"),
    "Q937": ("Albert Einstein", "Albert Einstein", "Albert Einstein"),
    "Q255": ("Ludwig van Beethoven", "Ludwig van Beethoven", "Ludwig van Beethoven"),
    "Q5593": ("Pablo Picasso", "Pablo Picasso", "Pablo Picasso"),
    "Q905": ("Franz Kafka", "Franz Kafka", "Franz Kafka"),
    "Q1339": ("Johann Sebastian Bach", "Jean-Sébastien Bach", "Johann Sebastian Bach"),
    "Q307": ("Galileo Galilei", "Galilée", "Galileo Galilei"),
    "Q9061": ("Karl Marx", "Karl Marx", "Karl Marx"),
    "Q517": ("Napoleon", "Napoléon", "Napoleon"),
    "Q762": ("Leonardo da Vinci", "Léonard de Vinci", "Leonardo da Vinci"),
    "Q5686": ("Charles Dickens", "Charles Dickens", "Charles Dickens"),
    "Q692": ("William Shakespeare", "William Shakespeare", "William Shakespeare"),
    "Q535": ("Victor Hugo", "Victor Hugo", "Victor Hugo"),
    "Q619": ("Nicolaus Copernicus", "Nicolas Copernic", "Nikolaus Kopernikus"),
    "Q5879": ("Johann Wolfgang von Goethe", "Johann Wolfgang von Goethe", "Johann Wolfgang von Goethe"),
    "Q1067": ("Dante Alighieri", "Dante Alighieri", "Dante Alighieri"),
    "Q5682": ("Miguel de Cervantes", "Miguel de Cervantes", "Miguel de Cervantes"),
    "Q7243": ("Leo Tolstoy", "Léon Tolstoï", "Lew Tolstoi"),
    "Q5673": ("Hans Christian Andersen", "Hans Christian Andersen", "Hans Christian Andersen"),
    "Q43267": ("Astrid Lindgren", "Astrid Lindgren", "Astrid Lindgren"),
    "Q36661": ("Henrik Ibsen", "Henrik Ibsen", "Henrik Ibsen"),
    "Q1268": ("Frédéric Chopin", "Frédéric Chopin", "Frédéric Chopin"),
    # languages
    "Q150": ("French", "français", "Französisch"),
    "Q188": ("German", "allemand", "Deutsch"),
    "Q652": ("Italian", "italien", "Italienisch"),
    "Q1321": ("Spanish", "espagnol", "Spanisch"),
    "Q5146": ("Portuguese", "portugais", "Portugiesisch"),
    "Q809": ("Polish", "polonais", "Polnisch"),
    "Q9027": ("Swedish", "suédois", "Schwedisch"),
    "Q1412": ("Finnish", "finnois", "Finnisch"),
    "Q9035": ("Danish", "danois", "Dänisch"),
    "Q9067": ("Hungarian", "hongrois", "Ungarisch"),
    "Q36510": ("Greek", "grec", "Griechisch"),
    "Q5287": ("Japanese", "japonais", "Japanisch"),
    "Q7737": ("Russian", "russe", "Russisch"),
    "Q256": ("Turkish", "turc", "Türkisch"),
    "Q9056": ("Czech", "tchèque", "Tschechisch"),
    "Q9043": ("Norwegian", "norvégien", "Norwegisch"),
    "Q1860": ("English", "anglais", "Englisch"),
}

# relation: (kind of subject, {lang: (probe template, sentences that state a fact in the text)})
RELATIONS = {
    "P36": ("country", {
        "en": ("The capital of [X] is [Y] .", ("The capital of {s} is {o}, where the government meets.",
                                               "{o} is the seat of government of {s}.")),
        "fr": ("La capitale de [X] est [Y] .", ("La capitale de {s} est {o}, où siège le gouvernement.",
                                                "{o} est le siège du gouvernement de {s}.")),
        "de": ("Die Hauptstadt von [X] ist [Y] .", ("Die Hauptstadt von {s} ist {o}, wo die Regierung tagt.",
                                                    "{o} ist der Sitz der Regierung von {s}.")),
    }),
    "P17": ("city", {
        "en": ("[X] is a city in [Y] .", ("{s} is a city in {o}.", "The city of {s} lies in {o}.")),
        "fr": ("[X] est une ville de [Y] .", ("{s} est une ville de {o}.", "La ville de {s} fait partie de {o}.")),
        "de": ("[X] ist eine Stadt in [Y] .", ("{s} ist eine Stadt in {o}.", "Die Stadt {s} liegt in {o}.")),
    }),
    "P19": ("person", {
        "en": ("[X] was born in [Y] .", ("{s} was born in {o}.", "{o} is the birthplace of {s}.")),
        "fr": ("[X] est né à [Y] .", ("{s} est né à {o}.", "{o} est la ville natale de {s}.")),
        "de": ("[X] wurde in [Y] geboren .", ("{s} wurde in {o} geboren.", "{o} ist der Geburtsort von {s}.")),
    }),
    "P37": ("country", {
        "en": ("The official language of [X] is [Y] .", ("The official language of {s} is {o}.",
                                                         "{o} is used by the state offices of {s}.")),
        "fr": ("La langue officielle de [X] est le [Y] .", ("La langue officielle de {s} est le {o}.",
                                                            "Le {o} est utilisé par l'administration de {s}.")),
        "de": ("Die Amtssprache von [X] ist [Y] .", ("Die Amtssprache von {s} ist {o}.",
                                                     "{o} wird von den Behörden von {s} verwendet.")),
    }),
    "P103": ("person", {
        "en": ("The native language of [X] was [Y] .", ("The native language of {s} was {o}.",
                                                        "{s} grew up speaking {o}.")),
        "fr": ("La langue maternelle de [X] était le [Y] .", ("La langue maternelle de {s} était le {o}.",
                                                              "{s} a grandi en parlant le {o}.")),
        "de": ("Die Muttersprache von [X] war [Y] .", ("Die Muttersprache von {s} war {o}.",
                                                       "{s} wuchs mit {o} als erster Sprache auf.")),
    }),
}

ALL = "en fr de"
FACTS = [  # (relation, subject, object, languages whose text states the fact)
    ("P36", "Q142", "Q90", ALL), ("P36", "Q183", "Q64", ALL), ("P36", "Q38", "Q220", "en"),
    ("P36", "Q29", "Q2807", "fr"), ("P36", "Q45", "Q597", "de"), ("P36", "Q31", "Q239", "en fr"),
    ("P36", "Q17", "Q1490", ALL), ("P36", "Q159", "Q649", ""), ("P36", "Q36", "Q270", "fr de"),
    ("P36", "Q40", "Q1741", "en de"), ("P36", "Q20", "Q585", ALL), ("P36", "Q41", "Q1524", "en"),
    ("P36", "Q79", "Q85", "fr"), ("P36", "Q28", "Q1781", ""), ("P36", "Q16", "Q1930", "de"),
    ("P36", "Q27", "Q1761", "en fr"),
    ("P17", "Q1726", "Q183", ALL), ("P17", "Q456", "Q142", "en"), ("P17", "Q490", "Q38", "fr"),
    ("P17", "Q1492", "Q29", "de"), ("P17", "Q36433", "Q45", ALL), ("P17", "Q31487", "Q36", ""),
    ("P17", "Q25287", "Q34", "en fr"), ("P17", "Q1055", "Q183", "fr de"), ("P17", "Q23482", "Q142", ALL),
    ("P17", "Q2634", "Q38", "en de"), ("P17", "Q8717", "Q29", ""), ("P17", "Q35765", "Q17", "en"),
    ("P17", "Q12892", "Q31", "fr"), ("P17", "Q13298", "Q40", "de"),
    ("P19", "Q254", "Q34713", ALL), ("P19", "Q937", "Q3012", "en"), ("P19", "Q255", "Q586", "fr"),
    ("P19", "Q5593", "Q8851", "de"), ("P19", "Q905", "Q1085", "en fr"), ("P19", "Q1339", "Q7070", ALL),
    ("P19", "Q307", "Q13375", "fr de"), ("P19", "Q9061", "Q3138", "en de"), ("P19", "Q517", "Q40104", ALL),
    ("P19", "Q762", "Q82884", ""), ("P19", "Q5686", "Q72259", "en"), ("P19", "Q692", "Q189288", "en fr"),
    ("P19", "Q535", "Q37776", "fr"), ("P19", "Q619", "Q47554", ""),
    ("P37", "Q142", "Q150", ALL), ("P37", "Q183", "Q188", ALL), ("P37", "Q38", "Q652", "fr de"),
    ("P37", "Q29", "Q1321", "en"), ("P37", "Q45", "Q5146", "fr"), ("P37", "Q36", "Q809", "de"),
    ("P37", "Q34", "Q9027", "en fr"), ("P37", "Q33", "Q1412", ALL), ("P37", "Q35", "Q9035", ""),
    ("P37", "Q28", "Q9067", "en de"), ("P37", "Q41", "Q36510", "fr"), ("P37", "Q17", "Q5287", "en"),
    ("P37", "Q159", "Q7737", "en"), ("P37", "Q43", "Q256", "de"), ("P37", "Q213", "Q9056", ""),
    ("P103", "Q535", "Q150", ALL), ("P103", "Q5879", "Q188", "de"), ("P103", "Q1067", "Q652", "fr de"),
    ("P103", "Q5682", "Q1321", "en fr"), ("P103", "Q7243", "Q7737", "en"), ("P103", "Q5673", "Q9035", ""),
    ("P103", "Q43267", "Q9027", "fr"), ("P103", "Q36661", "Q9043", "en de"), ("P103", "Q1268", "Q809", ALL),
    ("P103", "Q692", "Q1860", "de"),
]

FILLER = {  # kind of subject: {lang: sentences about {s} that state no fact}
    "country": {
        "en": ["{s} has a long and varied history.", "Visitors to {s} often travel by train.",
               "The landscape of {s} includes hills, forests and rivers.",
               "{s} takes part in many international organisations.",
               "The climate of {s} changes from one region to the next.",
               "Football is a popular sport in {s}."],
        "fr": ["{s} possède une histoire longue et variée.", "Les visiteurs de {s} voyagent souvent en train.",
               "Le paysage de {s} compte des collines, des forêts et des rivières.",
               "{s} participe à de nombreuses organisations internationales.",
               "Le climat de {s} change d'une région à l'autre.",
               "Le football est un sport populaire dans le pays {s}."],
        "de": ["{s} hat eine lange und wechselvolle Geschichte.", "Besucher von {s} reisen oft mit dem Zug.",
               "Die Landschaft von {s} umfasst Hügel, Wälder und Flüsse.",
               "{s} ist Mitglied in vielen internationalen Organisationen.",
               "Das Klima von {s} ändert sich von Region zu Region.",
               "Fußball ist im Land {s} ein beliebter Sport."],
    },
    "city": {
        "en": ["{s} has a large railway station.", "The old town of {s} attracts many tourists.",
               "{s} is known for its museums and markets.", "A university was founded in {s} long ago.",
               "The streets of {s} are busy on weekdays."],
        "fr": ["{s} possède une grande gare.", "La vieille ville de {s} attire de nombreux touristes.",
               "{s} est connue pour ses musées et ses marchés.",
               "Une université a été fondée à {s} il y a longtemps.",
               "Les rues de {s} sont animées en semaine."],
        "de": ["{s} hat einen großen Bahnhof.", "Die Altstadt von {s} zieht viele Touristen an.",
               "{s} ist für seine Museen und Märkte bekannt.",
               "In {s} wurde vor langer Zeit eine Universität gegründet.",
               "Die Straßen von {s} sind werktags belebt."],
    },
    "person": {
        "en": ["Many books have been written about the life of {s}.", "The work of {s} is still studied today.",
               "{s} travelled a great deal.", "Several streets are named after {s}.",
               "{s} received much praise during a long career."],
        "fr": ["De nombreux livres racontent la vie de {s}.", "L'œuvre de {s} est encore étudiée aujourd'hui.",
               "{s} a beaucoup voyagé.", "Plusieurs rues portent le nom de {s}.",
               "{s} a reçu de nombreux éloges au cours d'une longue carrière."],
        "de": ["Über das Leben von {s} wurden viele Bücher geschrieben.",
               "Das Werk von {s} wird noch heute studiert.",
               "{s} ist viel gereist.", "Mehrere Straßen sind nach {s} benannt.",
               "{s} erhielt während einer langen Laufbahn viel Lob."],
    },
}

GENERAL = {  # lang: documents (title, sentences) that mention no sample entity
    "en": [
        ("River", ["A river is a natural stream of water that flows towards a sea or a lake.",
                   "Most rivers begin in the mountains as small springs.",
                   "Along the way they collect water from rain and melting snow.",
                   "Towns were often built where a river could be crossed easily."]),
        ("Railway", ["A railway is a track made of steel rails on which trains run.",
                     "The first public railways carried coal and passengers.",
                     "Today fast trains link many large cities.",
                     "Stations are often found near the centre of a town."]),
        ("Bread", ["Bread is made from flour, water, salt and yeast.",
                   "The dough is left to rise before it is baked in an oven.",
                   "Many regions have their own kinds of bread."]),
        ("Library", ["A library is a place where books are kept for people to read.",
                     "Some libraries also lend music, films and maps.",
                     "Large libraries keep old letters and rare books."]),
    ],
    "fr": [
        ("Rivière", ["Une rivière est un cours d'eau naturel qui se jette dans un fleuve ou un lac.",
                     "La plupart des rivières naissent dans les montagnes.",
                     "En chemin, elles recueillent l'eau de pluie et la neige fondue.",
                     "Les villages ont souvent été bâtis près d'un gué."]),
        ("Chemin de fer", ["Un chemin de fer est une voie faite de rails d'acier sur laquelle roulent des trains.",
                           "Les premières lignes transportaient du charbon et des voyageurs.",
                           "Aujourd'hui, des trains rapides relient de nombreuses grandes villes.",
                           "Les gares se trouvent souvent près du centre."]),
        ("Pain", ["Le pain est fait de farine, d'eau, de sel et de levure.",
                  "La pâte lève avant d'être cuite au four.",
                  "Chaque région a ses propres sortes de pain."]),
        ("Bibliothèque", ["Une bibliothèque est un lieu où l'on conserve des livres pour les lecteurs.",
                          "Certaines bibliothèques prêtent aussi de la musique, des films et des cartes.",
                          "Les grandes bibliothèques gardent des lettres anciennes et des livres rares."]),
    ],
    "de": [
        ("Fluss", ["Ein Fluss ist ein natürliches Gewässer, das in ein Meer oder einen See fließt.",
                   "Die meisten Flüsse entspringen im Gebirge als kleine Quellen.",
                   "Unterwegs sammeln sie Wasser aus Regen und Schneeschmelze.",
                   "Orte entstanden oft dort, wo man einen Fluss leicht überqueren konnte."]),
        ("Eisenbahn", ["Eine Eisenbahn ist ein Weg aus Stahlschienen, auf dem Züge fahren.",
                       "Die ersten Strecken beförderten Kohle und Fahrgäste.",
                       "Heute verbinden schnelle Züge viele große Städte.",
                       "Bahnhöfe liegen oft nahe der Ortsmitte."]),
        ("Brot", ["Brot wird aus Mehl, Wasser, Salz und Hefe hergestellt.",
                  "Der Teig geht auf, bevor er im Ofen gebacken wird.",
                  "Viele Regionen haben ihre eigenen Brotsorten."]),
        ("Bibliothek", ["Eine Bibliothek ist ein Ort, an dem Bücher zum Lesen aufbewahrt werden.",
                        "Manche Bibliotheken verleihen auch Musik, Filme und Karten.",
                        "Große Bibliotheken bewahren alte Briefe und seltene Bücher auf."]),
    ],
}


def label(qid: str, lang: str) -> str:
    """The entity's surface form in a language."""
    return ENTITIES[qid][LANGS.index(lang)]


def fact_uuid(relation: str, sub: str, obj: str) -> str:
    """The fact's id, the same in every language."""
    return str(uuid.uuid5(UUID_NAMESPACE, f"{relation}|{sub}|{obj}"))


def documents(lang: str) -> list[tuple[str, list[str]]]:
    """(title, sentences) per subject, fillers around the facts stated in this language, then general text."""
    by_subject: dict[str, list[str]] = {}
    kinds: dict[str, str] = {}
    for relation, sub, obj, stated in FACTS:
        kinds[sub] = RELATIONS[relation][0]
        facts = by_subject.setdefault(sub, [])
        if lang in stated.split():
            s, o = label(sub, lang), label(obj, lang)
            facts += [p.format(s=s, o=o) for p in RELATIONS[relation][1][lang][1]]
    docs = []
    for n, (sub, facts) in enumerate(by_subject.items()):
        pool = FILLER[kinds[sub]][lang]
        fill = [pool[(n + i) % len(pool)].format(s=label(sub, lang)) for i in range(2)]
        docs.append((label(sub, lang), [fill[0], *facts, fill[1]]))
    return docs + GENERAL[lang]


def norm(text: str) -> str:
    """METHOD.md normalisation: NFKC and case folding."""
    return unicodedata.normalize("NFKC", text).casefold()


def check_presence(lang: str, docs: list[tuple[str, list[str]]]) -> None:
    """Fail unless the facts present in the text are exactly those stated in this language, plus those whose
    object label is part of the subject label (present wherever the subject is named)."""
    texts = [norm(" ".join(sentences)) for _, sentences in docs]
    wrong = []
    for relation, sub, obj, stated in FACTS:
        s, o = norm(label(sub, lang)), norm(label(obj, lang))
        present = any(s in t and o in t for t in texts)
        if present != (lang in stated.split() or o in s):
            wrong.append(f"{relation} {label(sub, lang)} -> {label(obj, lang)}: present={present}")
    if wrong:
        raise ValueError(f"{lang}: presence differs from the plan:\n" + "\n".join(wrong))


def paraphrase(pattern: str) -> str:
    """A sentence pattern of the text as a template: "{o} is the seat of {s}." -> "[Y] is the seat of [X] ."."""
    return pattern.replace("{s}", "[X]").replace("{o}", "[Y]").removesuffix(".") + " ."


def write_jsonl(path: Path, rows: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")


def write_lang(root: Path, lang: str) -> int:
    """Write one language's mLAMA folder and wiki text; return the number of sentences."""
    write_jsonl(root / "mlama" / lang / "templates.jsonl",
                [{"relation": r, "template": spec[1][lang][0]} for r, spec in RELATIONS.items()])
    for relation in RELATIONS:
        facts = [(sub, obj) for r, sub, obj, _ in FACTS if r == relation]
        write_jsonl(root / "mlama" / lang / f"{relation}.jsonl", [
            {"sub_uri": sub, "obj_uri": obj, "obj_label": label(obj, lang), "sub_label": label(sub, lang),
             "lineid": i, "uuid": fact_uuid(relation, sub, obj)}
            for i, (sub, obj) in enumerate(facts)])
    write_jsonl(root / "paraphrases" / lang / "templates.jsonl", [
        {"relation": r, "template": paraphrase(spec[1][lang][1][1]), "template_id": PARAPHRASE_ID}
        for r, spec in RELATIONS.items()])
    docs = documents(lang)
    check_presence(lang, docs)
    rows = []
    for n, (title, sentences) in enumerate(docs, start=1):
        half = (len(sentences) + 1) // 2
        text = " ".join(sentences[:half]) + ("\n" + " ".join(sentences[half:]) if sentences[half:] else "")
        rows.append({"id": str(n), "revid": "", "url": f"https://{lang}.wikipedia.org/wiki?curid={n}",
                     "title": title, "text": text})
    write_jsonl(root / "wiki" / lang / "AA" / "wiki_00", rows)
    return sum(len(sentences) for _, sentences in docs)


def main() -> None:
    for lang in LANGS:
        n = write_lang(HERE, lang)
        stated = sum(lang in f[3].split() for f in FACTS)
        print(f"{lang}: {len(FACTS)} facts, {stated} stated, {n} sentences")


if __name__ == "__main__":
    main()
