"""Word lists for the demo data set: countries, certification bodies, people, organization
names, scope wording and findings. Plain data, no ORM and no randomness here.

Every name is made up. Websites use the reserved ``.example`` top-level domain. Clause
numbers quoted for IECQ documents in findings are illustrative, not taken from the documents.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Country:
    code: str
    weight: int  # share of the organizations that are registered there
    forms: tuple[str, ...]  # legal forms that end a company name
    authority: str  # the registration authority; ``{city}`` is the organization's city
    number: str  # the shape of a registration number, see ``generate._registration_number``
    cities: tuple[str, ...]
    streets: tuple[str, ...]
    first_names: tuple[str, ...]
    last_names: tuple[str, ...]


COUNTRIES: tuple[Country, ...] = (
    Country(
        "CN",
        22,
        ("Co., Ltd.",),
        "State Administration for Market Regulation",
        "uscc",
        ("Shenzhen", "Suzhou", "Dongguan", "Shanghai", "Kunshan", "Xiamen", "Chengdu", "Wuxi"),
        ("Keji Road", "Gongye Avenue", "Xinhua Road", "Binhai Road", "Huaxia Street"),
        ("Wei", "Jing", "Lei", "Yan", "Hao", "Min", "Jun", "Li", "Qiang", "Xiu"),
        ("Wang", "Li", "Zhang", "Liu", "Chen", "Yang", "Huang", "Zhao", "Zhou", "Wu"),
    ),
    Country(
        "TW",
        9,
        ("Co., Ltd.", "Corporation", "Industrial Co., Ltd."),
        "Ministry of Economic Affairs",
        "digits8",
        ("Hsinchu", "Taoyuan", "Taichung", "Kaohsiung", "New Taipei", "Tainan"),
        ("Science Park Road", "Zhongshan Road", "Minsheng Road", "Industrial 3rd Road"),
        ("Chia-Hao", "Mei-Ling", "Yu-Ting", "Chih-Ming", "Shu-Fen", "Wen-Hsiung"),
        ("Chen", "Lin", "Huang", "Chang", "Lee", "Wang", "Wu", "Tsai"),
    ),
    Country(
        "US",
        11,
        ("Inc.", "LLC", "Corp."),
        "Secretary of State",
        "digits7",
        ("San Jose", "Austin", "Phoenix", "Boston", "Minneapolis", "Dallas", "Chandler"),
        ("Technology Drive", "Commerce Way", "Industrial Blvd", "Research Parkway"),
        ("James", "Mary", "Robert", "Linda", "Michael", "Karen", "David", "Susan", "Daniel"),
        ("Smith", "Johnson", "Miller", "Davis", "Garcia", "Wilson", "Anderson", "Taylor"),
    ),
    Country(
        "DE",
        8,
        ("GmbH", "GmbH & Co. KG", "AG"),
        "Handelsregister, Amtsgericht {city}",
        "hrb",
        ("Dresden", "Munich", "Stuttgart", "Nuremberg", "Berlin", "Hamburg", "Jena", "Ulm"),
        ("Industriestrasse", "Gewerbering", "Am Technologiepark", "Siemensstrasse"),
        ("Anna", "Jonas", "Lena", "Lukas", "Katrin", "Stefan", "Julia", "Matthias", "Petra"),
        ("Mueller", "Schmidt", "Schneider", "Fischer", "Weber", "Wagner", "Becker", "Hoffmann"),
    ),
    Country(
        "JP",
        8,
        ("Co., Ltd.", "K.K.", "Corporation"),
        "Legal Affairs Bureau",
        "digits13",
        ("Kyoto", "Osaka", "Yokohama", "Nagoya", "Hamamatsu", "Kumamoto", "Sendai"),
        ("Kogyo-dori", "Chuo", "Minami-machi", "Higashi 2-chome"),
        ("Hiroshi", "Yuki", "Takeshi", "Aiko", "Kenji", "Naoko", "Satoshi", "Emi"),
        ("Sato", "Suzuki", "Takahashi", "Tanaka", "Watanabe", "Ito", "Yamamoto", "Nakamura"),
    ),
    Country(
        "KR",
        6,
        ("Co., Ltd.", "Corp."),
        "National Tax Service",
        "kr_brn",
        ("Suwon", "Gumi", "Incheon", "Cheonan", "Changwon", "Pyeongtaek"),
        ("Samsung-ro", "Gongdan-ro", "Techno 2-ro", "Sandan-ro"),
        ("Min-jun", "Seo-yeon", "Ji-hoon", "Ha-eun", "Dong-hyun", "Su-bin"),
        ("Kim", "Lee", "Park", "Choi", "Jung", "Kang", "Yoon", "Jang"),
    ),
    Country(
        "IN",
        5,
        ("Pvt. Ltd.", "Ltd."),
        "Registrar of Companies",
        "cin",
        ("Bengaluru", "Chennai", "Pune", "Noida", "Hyderabad", "Ahmedabad"),
        ("Electronic City Phase 1", "MIDC Industrial Area", "SIPCOT Estate", "Sector 63"),
        ("Arjun", "Priya", "Rahul", "Ananya", "Vikram", "Deepa", "Suresh", "Kavita"),
        ("Sharma", "Patel", "Iyer", "Reddy", "Nair", "Gupta", "Rao", "Menon"),
    ),
    Country(
        "GB",
        4,
        ("Ltd", "Limited", "plc"),
        "Companies House",
        "digits8",
        ("Cambridge", "Swindon", "Bristol", "Livingston", "Coventry", "Newport"),
        ("Enterprise Way", "Station Road", "Innovation Park", "Mill Lane"),
        ("Oliver", "Emma", "Harry", "Sophie", "George", "Charlotte", "Thomas", "Amelia"),
        ("Jones", "Williams", "Brown", "Evans", "Thomas", "Roberts", "Walker", "Wright"),
    ),
    Country(
        "MY",
        4,
        ("Sdn. Bhd.", "Bhd."),
        "Companies Commission of Malaysia",
        "digits12",
        ("Penang", "Kulim", "Johor Bahru", "Shah Alam", "Melaka"),
        ("Jalan Perindustrian", "Lorong Bayan Lepas", "Jalan Teknologi"),
        ("Ahmad", "Siti", "Kumar", "Mei Ling", "Farid", "Nurul"),
        ("Abdullah", "Tan", "Lim", "Rahman", "Wong", "Ismail"),
    ),
    Country(
        "FR",
        3,
        ("SAS", "SA", "SARL"),
        "Registre du commerce et des societes de {city}",
        "siren",
        ("Grenoble", "Toulouse", "Rennes", "Lyon", "Bordeaux"),
        ("Rue de l'Industrie", "Avenue des Sciences", "Zone d'activites du Parc"),
        ("Camille", "Nicolas", "Julie", "Thomas", "Claire", "Antoine", "Sophie"),
        ("Martin", "Bernard", "Dubois", "Laurent", "Moreau", "Girard", "Roux"),
    ),
    Country(
        "IT",
        3,
        ("S.r.l.", "S.p.A."),
        "Registro delle Imprese di {city}",
        "digits11",
        ("Milan", "Turin", "Bologna", "Catania", "Padua"),
        ("Via dell'Industria", "Via Galileo Galilei", "Viale dell'Elettronica"),
        ("Marco", "Giulia", "Luca", "Francesca", "Andrea", "Chiara", "Paolo"),
        ("Rossi", "Russo", "Ferrari", "Esposito", "Bianchi", "Romano", "Colombo"),
    ),
    Country(
        "MX",
        3,
        ("S.A. de C.V.", "S. de R.L. de C.V."),
        "Registro Publico de Comercio",
        "rfc",
        ("Guadalajara", "Tijuana", "Monterrey", "Ciudad Juarez", "Queretaro"),
        ("Parque Industrial", "Avenida Tecnologico", "Calle Industria"),
        ("Jose", "Maria", "Juan", "Guadalupe", "Carlos", "Fernanda"),
        ("Hernandez", "Garcia", "Martinez", "Lopez", "Gonzalez", "Rodriguez"),
    ),
    Country(
        "SG",
        2,
        ("Pte. Ltd.", "Ltd."),
        "Accounting and Corporate Regulatory Authority",
        "uen",
        ("Singapore",),
        ("Ang Mo Kio Industrial Park", "Woodlands Loop", "Tampines Industrial Avenue"),
        ("Wei Ming", "Hui Min", "Rajesh", "Siew Ling", "Kai Xiang"),
        ("Tan", "Lim", "Ng", "Goh", "Chua", "Pillai"),
    ),
    Country(
        "SE",
        2,
        ("AB",),
        "Bolagsverket",
        "se_org",
        ("Stockholm", "Gothenburg", "Linkoping", "Vasteras", "Lund"),
        ("Industrigatan", "Teknikringen", "Verkstadsvagen"),
        ("Erik", "Anna", "Lars", "Karin", "Johan", "Maria"),
        ("Andersson", "Johansson", "Karlsson", "Nilsson", "Eriksson", "Larsson"),
    ),
    Country(
        "CZ",
        2,
        ("s.r.o.", "a.s."),
        "Obchodni rejstrik, {city}",
        "digits8",
        ("Brno", "Prague", "Ostrava", "Plzen"),
        ("Prumyslova", "Technicka", "Vyrobni"),
        ("Jan", "Petra", "Tomas", "Lucie", "Martin", "Eva"),
        ("Novak", "Svoboda", "Novotny", "Dvorak", "Cerny", "Prochazka"),
    ),
    Country(
        "NL",
        2,
        ("B.V.", "N.V."),
        "Kamer van Koophandel",
        "digits8",
        ("Eindhoven", "Nijmegen", "Enschede", "Delft"),
        ("High Tech Campus", "Industrieweg", "Science Park"),
        ("Daan", "Sanne", "Bram", "Lotte", "Ruben", "Eva"),
        ("de Jong", "Jansen", "de Vries", "van Dijk", "Bakker", "Visser"),
    ),
    Country(
        "PL",
        2,
        ("Sp. z o.o.", "S.A."),
        "Krajowy Rejestr Sadowy",
        "krs",
        ("Wroclaw", "Krakow", "Gdansk", "Lodz"),
        ("ul. Przemyslowa", "ul. Elektronowa", "ul. Fabryczna"),
        ("Piotr", "Anna", "Krzysztof", "Katarzyna", "Tomasz", "Agnieszka"),
        ("Nowak", "Kowalski", "Wisniewski", "Wojcik", "Kaminski", "Lewandowski"),
    ),
    Country(
        "TH",
        2,
        ("Co., Ltd.", "Public Co., Ltd."),
        "Department of Business Development",
        "digits13",
        ("Ayutthaya", "Chonburi", "Pathum Thani", "Rayong"),
        ("Rojana Industrial Park", "Amata City", "Navanakorn Industrial Estate"),
        ("Somchai", "Sunisa", "Anan", "Kanya", "Prasert", "Wilai"),
        ("Saetang", "Srisuk", "Wongsawat", "Chaiyaporn", "Boonmee", "Kittisak"),
    ),
    Country(
        "VN",
        2,
        ("Co., Ltd.", "Joint Stock Company"),
        "Department of Planning and Investment",
        "digits10",
        ("Hanoi", "Bac Ninh", "Hai Phong", "Ho Chi Minh City"),
        ("Yen Phong Industrial Park", "VSIP Road", "Quang Minh Industrial Zone"),
        ("Minh", "Lan", "Tuan", "Huong", "Duc", "Mai"),
        ("Nguyen", "Tran", "Le", "Pham", "Hoang", "Vu"),
    ),
    Country(
        "HU",
        1,
        ("Kft.", "Zrt."),
        "Cegbirosag",
        "hu_cg",
        ("Budapest", "Szekesfehervar", "Gyor"),
        ("Ipari Park", "Gyar utca", "Technologia utca"),
        ("Laszlo", "Eva", "Zoltan", "Katalin", "Gabor"),
        ("Nagy", "Kovacs", "Toth", "Szabo", "Horvath"),
    ),
    Country(
        "CH",
        1,
        ("AG", "SA", "GmbH"),
        "Handelsregister",
        "che",
        ("Zurich", "Neuchatel", "Lucerne", "Basel"),
        ("Industriestrasse", "Rue de la Microtechnique", "Technoparkstrasse"),
        ("Luca", "Mia", "Noah", "Laura", "David", "Sara"),
        ("Meier", "Keller", "Brunner", "Favre", "Baumann", "Huber"),
    ),
)
COUNTRY_BY_CODE = {country.code: country for country in COUNTRIES}

COUNTRY_BY_CODE = {c.code: c for c in COUNTRIES}


@dataclass(frozen=True)
class CBSpec:
    code: str
    name: str
    country: str
    website: str
    programmes: tuple[str, ...]
    weight: int  # share of the certificates this CB issues
    assessors: int


CERTIFICATION_BODIES: tuple[CBSpec, ...] = (
    CBSpec(
        "NZC",
        "Nordlicht Zertifizierung GmbH",
        "DE",
        "https://www.nordlicht-zert.example",
        ("AP", "AP-ESD", "AP-CAP", "AP-ECMP"),
        14,
        8,
    ),
    CBSpec(
        "BQA",
        "Britannia Quality Assurance Ltd",
        "GB",
        "https://www.britannia-qa.example",
        ("AP", "AP-ESD", "AP-CAP", "AP-ECMP"),
        10,
        6,
    ),
    CBSpec(
        "ACS",
        "American Component Standards Inc.",
        "US",
        "https://www.acs-registrar.example",
        ("AP", "AP-ESD", "AP-CAP", "AP-ECMP"),
        12,
        7,
    ),
    CBSpec(
        "CQS",
        "Huaxin Quality Services Co., Ltd.",
        "CN",
        "https://www.huaxin-qs.example",
        ("AP", "AP-ESD", "AP-CAP"),
        16,
        8,
    ),
    CBSpec(
        "TWQ",
        "Formosa Quality Registrar Corp.",
        "TW",
        "https://www.formosa-qr.example",
        ("AP", "AP-ESD"),
        9,
        5,
    ),
    CBSpec(
        "JQE",
        "Nippon Quality Evaluation Center",
        "JP",
        "https://www.nqec.example",
        ("AP", "AP-ESD", "AP-CAP"),
        9,
        5,
    ),
    CBSpec(
        "KCQ",
        "Hanbit Components Quality Institute",
        "KR",
        "https://www.hanbit-cqi.example",
        ("AP", "AP-ESD"),
        7,
        4,
    ),
    CBSpec(
        "ICS",
        "Indus Certification Services Pvt. Ltd.",
        "IN",
        "https://www.indus-cert.example",
        ("AP", "AP-ESD", "AP-CAP"),
        6,
        4,
    ),
    CBSpec(
        "FRC",
        "Hexagone Conformite SAS",
        "FR",
        "https://www.hexagone-conformite.example",
        ("AP", "AP-ESD", "AP-ECMP"),
        5,
        3,
    ),
    CBSpec(
        "ITQ",
        "Qualita Peninsulare S.r.l.",
        "IT",
        "https://www.qualita-peninsulare.example",
        ("AP", "AP-ESD"),
        4,
        3,
    ),
    CBSpec(
        "SEQ",
        "Nordisk Kvalitetscertifiering AB",
        "SE",
        "https://www.nordisk-kc.example",
        ("AP", "AP-ESD", "AP-ECMP"),
        3,
        3,
    ),
    CBSpec(
        "SGQ",
        "Straits Quality Registrar Pte. Ltd.",
        "SG",
        "https://www.straits-qr.example",
        ("AP", "AP-ESD", "AP-CAP"),
        5,
        3,
    ),
)


@dataclass(frozen=True)
class Family:
    """A kind of business and the scope it typically asks to have certified."""

    key: str
    weight: int
    programmes: tuple[str, ...]
    categories: tuple[str, ...]  # categories its scope lines are drawn from
    nouns: tuple[str, ...]  # what a company of this kind calls itself
    # An optional second programme with its categories, added to some applications.
    extra_programme: str = ""
    extra_categories: tuple[str, ...] = ()
    design_categories: tuple[str, ...] = ()  # some applications also claim design


FAMILIES: tuple[Family, ...] = (
    Family(
        "assembly",
        24,
        ("AP",),
        ("PCBA.SMT", "PCBA.THT", "PCBA.CC", "PCBA.RWK", "PCBA.CWH"),
        ("Electronics Manufacturing", "EMS", "Electronic Assemblies", "Assembly Services"),
        "AP-ESD",
        ("ESD.EPA", "MSD.DRY"),
        ("DES.ELEC", "DES.PCB"),
    ),
    Family(
        "boards",
        14,
        ("AP",),
        ("PWB.IMG", "PWB.LAM", "PWB.DRL", "PWB.PLT", "PWB.SM", "PWB.SF", "PWB.ET"),
        ("Circuits", "PCB", "Printed Circuits", "Multilayer Technology"),
        design_categories=("DES.PCB",),
    ),
    Family(
        "components",
        12,
        ("AP",),
        ("CMF.PAS", "CMF.SEM", "CMF.EM"),
        ("Components", "Semiconductor", "Passive Components", "Connectors"),
        "AP-ESD",
        ("ESD.EPA",),
        ("DES.CMP", "DES.VER"),
    ),
    Family(
        "distribution",
        10,
        ("AP",),
        ("DSC.FRN", "DSC.IND", "DSC.STO"),
        ("Components Distribution", "Electronic Supply", "Parts Logistics"),
        "AP-CAP",
        ("CAV.DET", "CAV.DSP"),
    ),
    Family(
        "esd",
        9,
        ("AP-ESD",),
        ("ESD.EPA", "ESD.CV", "MSD.DRY", "MSD.BAKE"),
        ("Electronics", "Precision Electronics", "Device Handling"),
    ),
    Family(
        "plating",
        7,
        ("AP",),
        ("EPL.SN", "EPL.NIAU", "PWB.SF.ENIG"),
        ("Plating", "Surface Technology", "Galvanics", "Metal Finishing"),
    ),
    Family(
        "materials",
        6,
        ("AP",),
        ("PPM.LAM", "PPM.LF", "PPM.SOL"),
        ("Materials", "Laminates", "Metal Stampings", "Solder Products"),
    ),
    Family(
        "testing",
        6,
        ("AP",),
        ("TIS.ENV", "TIS.ELT", "TIS.FA", "TIS.CAL"),
        ("Test Laboratories", "Reliability Services", "Test and Inspection"),
    ),
    Family(
        "packaging",
        4,
        ("AP",),
        ("PKG.TR", "PKG"),
        ("Packaging Solutions", "Carrier Tape", "Pack Services"),
        "AP-ESD",
        ("MSD.DRY",),
    ),
    Family(
        "design",
        4,
        ("AP",),
        ("DES.ELEC", "DES.PCB", "DES.VER"),
        ("Design", "Engineering", "Design House"),
    ),
    Family(
        "avionics",
        3,
        ("AP-ECMP",),
        ("CMP.ECMP", "CMP.OBS"),
        ("Avionics", "Aerospace Electronics", "Flight Systems"),
        "AP-CAP",
        ("CAV.DSP",),
    ),
    Family(
        "substances",
        2,
        ("AP",),
        ("HSP.MD", "HSP.CTL"),
        ("Compliance Services", "Materials Engineering"),
    ),
)

# The standards a scope line in each top-level category may declare besides ISO 9001
# (designations; the edition is the current one in the catalogue, if it existed then).
CATEGORY_STANDARDS: dict[str, tuple[str, ...]] = {
    "DES": ("IEC 61191-1",),
    "PWB": ("IPC-A-600", "IPC-6012"),
    "PWB.SF.ENIG": ("IPC-4552", "IPC-A-600"),
    "EPL": ("IPC-4552",),
    "CMF": ("IEC 60068-1", "IEC 60068-2-58", "IEC 60068-2-78", "IPC/JEDEC J-STD-020"),
    "PPM": ("IEC 60068-2-58",),
    "PCBA": ("IPC-A-610", "IPC J-STD-001", "IEC 61191-1", "IEC 61191-2"),
    "PCBA.THT": ("IPC-A-610", "IPC J-STD-001", "IEC 61191-3"),
    "PCBA.SMT": ("IPC-A-610", "IPC J-STD-001", "IEC 61191-2", "IEC 61760-1"),
    "PKG": ("IPC/JEDEC J-STD-033",),
    "TIS": ("ISO/IEC 17025", "IEC 60068-1", "IEC 60068-2-1", "IEC 60068-2-78"),
    "ESD": ("IEC 61340-5-1", "ANSI/ESD S20.20"),
    "MSD": ("IPC/JEDEC J-STD-033", "IPC/JEDEC J-STD-020"),
    "DSC": ("IPC/JEDEC J-STD-033",),
    "CAV": ("IEC 62668-1", "IEC 62668-2", "SAE AS5553", "SAE AS6081"),
    "CMP": ("IEC 62239-1",),
    "HSP": ("IEC 62474",),
}

# How a scope line reads on the certificate, by category. ``{x}`` is filled per line.
SCOPE_WORDING: dict[str, tuple[str, ...]] = {
    "DES.ELEC": (
        "Design and development of electronic circuits for {market} control units",
        "Schematic design, component selection and worst-case analysis of {market} electronics",
    ),
    "DES.PCB": (
        "Layout and manufacturing data of rigid and rigid-flex printed boards up to {layers} "
        "layers",
        "Printed board stack-up design, routing and design-for-manufacture review",
    ),
    "DES.CMP": ("Design of {component} for {market} applications",),
    "DES.VER": ("Design verification and qualification testing of {market} assemblies",),
    "PWB.IMG": ("Inner and outer layer imaging and etching of multilayer printed boards",),
    "PWB.LAM": ("Lamination of multilayer printed boards up to {layers} layers",),
    "PWB.DRL": ("Mechanical and laser drilling, back-drilling and routing of printed boards",),
    "PWB.PLT": (
        "Electroless and electrolytic copper plating of through-holes and microvias",
        "Hole metallization and panel plating of printed boards",
    ),
    "PWB.SM": ("Liquid photoimageable solder mask and legend printing",),
    "PWB.SF": ("Surface finishes on printed boards: {finish}",),
    "PWB.SF.ENIG": ("Electroless nickel / immersion gold (ENIG) finish on printed boards",),
    "PWB.ET": ("Flying-probe and fixture electrical test of bare printed boards",),
    "EPL.SN": (
        "Matte tin and tin-alloy electroplating of {component} terminations",
        "Reel-to-reel tin plating of lead frames and connector contacts",
    ),
    "EPL.NIAU": ("Nickel and hard gold electroplating of connector contacts",),
    "CMF.PAS": ("Manufacture of {component}",),
    "CMF.SEM": ("Assembly and test of discrete semiconductors in {package} packages",),
    "CMF.EM": ("Manufacture of board-to-board and wire-to-board connectors and relays",),
    "PPM.LAM": ("Manufacture of copper-clad laminates and prepregs for printed boards",),
    "PPM.LF": ("Stamping and plating of lead frames for semiconductor packages",),
    "PPM.SOL": ("Manufacture of solder pastes, solder wire and fluxes",),
    "PCBA.SMT": (
        "Surface-mount assembly of printed board assemblies for {market} customers",
        "SMT assembly including reflow soldering, AOI and X-ray inspection",
    ),
    "PCBA.THT": ("Through-hole assembly with wave and selective soldering",),
    "PCBA.CC": ("Conformal coating of printed board assemblies (acrylic, silicone, parylene)",),
    "PCBA.RWK": ("Rework, modification and repair of printed board assemblies",),
    "PCBA.CWH": ("Cable and wire harness assembly for {market} equipment",),
    "PKG": ("Packing of electronic components for shipment",),
    "PKG.TR": ("Tape and reel, tray and tube packing of surface-mount components",),
    "TIS.ENV": ("Environmental and reliability testing: temperature cycling, damp heat, shock",),
    "TIS.ELT": ("Electrical test and screening of components to customer specifications",),
    "TIS.FA": ("Failure analysis of electronic components and assemblies",),
    "TIS.CAL": ("Calibration of electrical and dimensional measuring equipment",),
    "ESD.EPA": (
        "ESD control programme for ESD protected areas in production and stores",
        "Handling of ESD-sensitive devices in ESD protected areas",
    ),
    "ESD.CV": ("ESD compliance verification of workstations, flooring and ionizers",),
    "MSD.DRY": ("Dry packing and dry storage of moisture-sensitive devices",),
    "MSD.BAKE": ("Baking and floor-life control of moisture-sensitive devices",),
    "DSC.FRN": ("Franchised distribution of electronic components",),
    "DSC.IND": ("Independent distribution of electronic components with supplier control",),
    "DSC.STO": ("Long-term storage of electronic components in controlled conditions",),
    "CAV.DET": ("Authenticity inspection and testing of electronic components",),
    "CAV.DSP": ("Quarantine, reporting and disposition of suspect counterfeit components",),
    "CMP.ECMP": ("Electronic components management plan for {market} equipment",),
    "CMP.OBS": ("Obsolescence management of electronic components",),
    "HSP.MD": ("Material declarations for electrotechnical products",),
    "HSP.CTL": ("Hazardous-substance-free process control in assembly",),
}

WORDING_FILL: dict[str, tuple[str, ...]] = {
    "market": ("automotive", "industrial", "medical", "telecommunication", "avionics", "rail"),
    "layers": ("8", "12", "16", "24", "32"),
    "finish": ("ENIG, immersion tin and OSP", "HASL lead-free and ENIG", "immersion silver"),
    "component": (
        "multilayer ceramic capacitors",
        "thick-film chip resistors",
        "power inductors",
        "film capacitors",
        "crystal oscillators",
    ),
    "package": ("SOT-23 and SOD", "TO-220 and D2PAK", "QFN and DFN"),
}

# Words that start a made-up company name.
NAME_PREFIXES: tuple[str, ...] = (
    "Apex", "Aurora", "Bluepeak", "Cobalt", "Crestline", "Delta", "Everbright", "Falcon",
    "Golden Bridge", "Granite", "Harbor", "Horizon", "Ironwood", "Jade", "Keystone", "Lumen",
    "Meridian", "Northstar", "Oakridge", "Orion", "Pacific", "Pinnacle", "Quantum", "Redwood",
    "Sapphire", "Silverline", "Summit", "Sunrise", "Titan", "Trident", "Unity", "Vanguard",
    "Vertex", "Westgate", "Zenith", "Precision", "Allied", "Premier", "United", "Evergreen",
)  # fmt: skip
BRAND_HEADS: tuple[str, ...] = (
    "Micro", "Opti", "Nano", "Flex", "Tri", "Inno", "Ele", "Proto", "Sino", "Euro", "Vita",
    "Volt", "Circu", "Omni", "Poly", "Sig", "Kem", "Uni", "Xen", "Lumi",
)  # fmt: skip
BRAND_TAILS: tuple[str, ...] = (
    "tronic", "tek", "con", "lab", "plex", "line", "pak", "tron", "sys", "onics", "matic",
    "cell", "wave", "dyne", "trace",
)  # fmt: skip

SITE_NAMES: tuple[str, ...] = ("Main plant", "Plant 2", "Plant 3")
SITE_ALTERNATIVES: tuple[str, ...] = ("Headquarters", "Works", "Operations centre", "Campus")

# Findings: requirement reference and what the assessor found.
ISO_9001_FINDINGS: tuple[tuple[str, str], ...] = (
    ("7.1.5", "Two torque drivers on line {n} were past their calibration due date."),
    ("7.2", "Training records for operators on the {proc} station were incomplete."),
    ("7.5.3", "A superseded work instruction was in use at the {proc} station."),
    ("8.4.1", "Supplier evaluation for {n} approved suppliers had not been repeated as planned."),
    ("8.5.1", "Process parameters for {proc} were not recorded for {n} production lots."),
    ("8.5.2", "Traceability from finished lot to incoming material lot could not be shown."),
    ("8.7", "Nonconforming product in the quarantine area was not identified."),
    ("9.1.1", "Process capability for {proc} was not monitored as required by the plan."),
    ("9.2", "The internal audit programme did not cover {proc} in the last cycle."),
    ("9.3", "Management review did not consider the results of customer feedback."),
    ("10.2", "Root cause analysis of {n} customer complaints was not documented."),
)  # fmt: skip
IECQ_FINDINGS: tuple[tuple[str, str], ...] = (
    ("IECQ 03-2 4.2", "The declared scope did not match the processes run at the site."),
    ("IECQ 03-2 4.5", "The IECQ certificate mark was used on documents outside the scope."),
    ("IECQ 03-2 5.1", "Changes to the certified process were not notified to the CB."),
)  # fmt: skip
STANDARD_CLAUSES: tuple[str, ...] = ("4.2", "5.1", "5.3.2", "6.1", "7.4", "8.2")
STANDARD_FINDING = "Requirement {clause} of {ref} was not met at the {proc} process."
OBSERVATIONS: tuple[str, ...] = (
    "Housekeeping in the {proc} area could be improved.",
    "Consider trending first-pass yield of {proc} by shift.",
    "Labels of calibrated equipment were partly unreadable.",
    "The document index lists forms that are no longer used.",
)

CORRECTIONS: tuple[tuple[str, str, str, str], ...] = (
    (
        "Affected items identified and re-checked.",
        "No check of this requirement in the process checklist.",
        "Checklist extended and operators briefed.",
        "checklist-rev-{n}.pdf",
    ),
    (
        "Records completed for the open lots.",
        "Responsibility for the record was not assigned.",
        "Owner assigned in the process description; weekly check added.",
        "process-description-{n}.pdf",
    ),
    (
        "Equipment taken out of use and recalibrated.",
        "The recall schedule was kept manually.",
        "Calibration recall moved to the maintenance system.",
        "calibration-report-{n}.pdf",
    ),
    (
        "Obsolete documents withdrawn from the workplace.",
        "Document distribution was not controlled at shift handover.",
        "Controlled distribution introduced for all workstations.",
        "distribution-list-{n}.xlsx",
    ),
)
REJECT_COMMENTS: tuple[str, ...] = (
    "The root cause is not shown; the answer repeats the finding.",
    "The action does not cover the other lines with the same process.",
)

# Why a certificate's status changed, by reason category (private free text).
STATUS_REASONS: dict[str, tuple[str, ...]] = {
    "missed_surveillance": (
        "Surveillance assessment not carried out within the allowed window.",
        "The holder did not agree a date for the surveillance assessment.",
    ),
    "corrective_action_late": (
        "Corrective actions for the surveillance findings were not submitted in time.",
    ),
    "misuse": ("The certificate was presented as covering products outside its scope.",),
    "holder_request": (
        "The holder asked to suspend while the plant is relocated.",
        "Production of the certified process paused at the holder's request.",
    ),
    "complaint": ("A customer complaint about counterfeit parts is under investigation.",),
    "unpaid_fees": ("Certification fees unpaid after two reminders.",),
    "nonconformity": ("A major nonconformity found at a special assessment is not resolved.",),
    "suspension_exceeded": ("The cause of suspension was not resolved within six months.",),
    "resolved": (
        "Surveillance assessment carried out; no open major nonconformity.",
        "Corrective actions verified as effective.",
        "Fees settled.",
        "The holder resumed production of the certified process.",
    ),
}
CANCEL_REASONS: tuple[str, ...] = (
    "The holder closed the certified site.",
    "The holder no longer needs IECQ AP certification.",
    "The certified process was sold to another company.",
    "The holder merged into another company.",
)
#: Why a certificate is suspended outside a missed surveillance, and withdrawn at once.
SUSPEND_CATEGORIES = (
    "corrective_action_late",
    "holder_request",
    "unpaid_fees",
    "complaint",
    "misuse",
)
WITHDRAW_DIRECT = ("misuse", "complaint", "nonconformity")
GRANT_RATIONALES: tuple[str, ...] = (
    "",
    "Report reviewed; all nonconformities addressed.",
    "Recommended by the lead assessor; scope confirmed.",
)
RENEW_RATIONALES: tuple[str, ...] = (
    "",
    "Re-assessment satisfactory.",
    "Re-assessment report reviewed; certification renewed for a further cycle.",
)
