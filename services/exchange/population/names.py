"""Synthetic names by locale and script, so that a household's names belong together. Invented combinations of
common names; no list describes a real person."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Locale:
    code: str
    weight: int
    female: tuple[str, ...]
    male: tuple[str, ...]
    family: tuple[str, ...]
    language: str


LOCALES: tuple[Locale, ...] = (
    Locale(
        "sw",
        22,
        ("Amani", "Neema", "Zawadi", "Wanjiru", "Achieng", "Rehema", "Imani", "Halima"),
        ("Baraka", "Juma", "Otieno", "Kamau", "Mwangi", "Omondi", "Hamisi", "Jabari"),
        ("Mwangi", "Otieno", "Kariuki", "Njoroge", "Wambui", "Odhiambo", "Mollel", "Shirima"),
        "sw",
    ),
    Locale(
        "yo-ig",
        16,
        ("Ngozi", "Adaeze", "Folake", "Chiamaka", "Yetunde", "Ifeoma", "Bisi", "Amaka"),
        ("Chidi", "Emeka", "Oluwaseun", "Tunde", "Obinna", "Kelechi", "Femi", "Ike"),
        ("Okafor", "Adeyemi", "Eze", "Nwosu", "Bello", "Okonkwo", "Adebayo", "Obi"),
        "en",
    ),
    Locale(
        "ak",
        8,
        ("Efua", "Abena", "Esi", "Akosua", "Ama", "Adjoa"),
        ("Kwame", "Kofi", "Yaw", "Kwabena", "Kojo"),
        ("Mensah", "Boateng", "Asante", "Osei", "Owusu", "Appiah"),
        "en",
    ),
    Locale(
        "zu",
        8,
        ("Thandiwe", "Lindiwe", "Zodwa", "Nomsa", "Ayanda"),
        ("Sipho", "Bongani", "Vusi", "Xolani", "Themba"),
        ("Dlamini", "Nkosi", "Zulu", "Sithole", "Mahlangu", "Ncube"),
        "en",
    ),
    Locale(
        "ar",
        12,
        ("فاطمة", "مريم", "عائشة", "نور", "ليلى", "زينب"),
        ("أحمد", "محمد", "عمر", "يوسف", "حسن", "طارق"),
        ("حسن", "علي", "إبراهيم", "حداد", "خليل", "منصور"),
        "ar",
    ),
    Locale(
        "am",
        6,
        ("ትግስት", "ሰላም", "መሰረት", "ሄለን", "ብርቱካን"),
        ("ዳዊት", "ተስፋዬ", "ዮሐንስ", "አበበ", "ሰለሞን"),
        ("በቀለ", "ተስፋዬ", "ገብሬ", "ኃይሌ", "ወልዴ"),
        "en",
    ),
    Locale(
        "hi",
        8,
        ("सीता", "प्रिया", "अनीता", "कविता", "पूजा"),
        ("राहुल", "अर्जुन", "रवि", "विकास", "अमित"),
        ("शर्मा", "वर्मा", "पटेल", "सिंह", "गुप्ता"),
        "en",
    ),
    Locale(
        "zh",
        5,
        ("美玲", "丽华", "静", "秀英", "敏"),
        ("伟", "强", "军", "磊", "洋"),
        ("王", "李", "张", "刘", "陈"),
        "en",
    ),
    Locale(
        "ru",
        4,
        ("Мария", "Ольга", "Анна", "Елена"),
        ("Алексей", "Иван", "Дмитрий", "Сергей"),
        ("Иванова", "Смирнова", "Петрова", "Кузнецова"),
        "en",
    ),
    Locale(
        "pt-es",
        7,
        ("Lucía", "Ana", "Sofía", "Gabriela", "Inês", "Carmen"),
        ("Mateo", "Luis", "Diego", "João", "Pedro"),
        ("García", "Rodríguez", "Silva", "Santos", "Fernández", "Conceição"),
        "pt",
    ),
    Locale(
        "fr",
        4,
        ("Anaïs", "Aminata", "Mariam", "Chloé"),
        ("Moussa", "Ibrahima", "Théo", "Cheikh"),
        ("Diallo", "Traoré", "Dubois", "Ndiaye", "Koné"),
        "fr",
    ),
)
