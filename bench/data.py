"""Deterministic, realistic bench data: Chinese names, valid ID-card numbers, unique mobiles, estates.

Everything comes from one seeded random generator, so two runs with the same N seed the same rows.
"""

from __future__ import annotations

import itertools
import random
from datetime import date, datetime, timedelta
from decimal import Decimal

from app.domain.validation import id_number_check_digit

# Common family names, the most frequent first and weighted roughly by frequency.
SURNAMES = ("王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏"
            "魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万"
            "钱严覃武戴莫孔向汤欧阳")
SURNAME_WEIGHTS = [max(1.0, 80.0 / (i + 1)) for i in range(len(SURNAMES))]
# Common given names (one or two characters).
GIVEN_NAMES = (
    "伟 芳 娜 敏 静 丽 强 磊 军 洋 勇 艳 杰 娟 涛 明 超 霞 平 刚 华 鹏 辉 鑫 斌 宇 浩 凯 健 俊 帆 帅 旭 宁 龙 林 欢 阳 "
    "建国 建华 建军 志强 志明 志刚 秀英 秀兰 秀珍 桂英 桂兰 玉兰 玉梅 丽华 丽娟 海燕 海涛 晓梅 晓东 晓燕 雪梅 春燕 "
    "国华 国强 红梅 立新 文华 永刚 子轩 浩然 欣怡 梓涵 一诺 宇航 思远 佳琪 雨涵 明轩 子涵 诗涵 梓轩 俊杰 嘉怡 "
    "婷婷 丹丹 晶晶 莉莉 倩倩 文静 美玲 慧敏 家豪 天佑 振宇 博文 泽宇 昊天 若曦 紫萱 欣妍 语桐 雅琴 淑芬 凤英 "
    "德明 德华 光明 卫东 卫国 爱国 向东 红军 小红 小燕 金凤 银花 春梅 冬梅 秋菊 少华 少军 世杰 文博 浩宇"
).split()
NAME_SEARCH = "建国"  # a two-character given name: the name search looks for it (contains)

REGIONS = ("330102", "330105", "330106", "330108", "330110", "330203", "330205", "330212", "330302", "330402",
           "330502", "330602", "110101", "110105", "110108", "310101", "310104", "310115", "320102", "320506",
           "340104", "350203", "360102", "370202", "410105", "420106", "430104", "440106", "440305", "500103",
           "510107", "610113")
# None of the demo data's prefixes (app.demo.MOBILE_PREFIXES), so bench mobiles never collide with them.
MOBILE_PREFIXES = ("130", "131", "132", "133", "134", "136", "152", "155", "156", "158", "159", "166", "173",
                   "176", "180", "181", "182", "183", "185", "188", "189", "191", "193", "195", "198")
AREA_CODES = ("0571", "0574", "0577", "0573", "010", "021", "025", "0512")
DISTRICTS = ("西湖区", "拱墅区", "上城区", "滨江区", "萧山区", "余杭区", "鄞州区", "海曙区", "江北区", "北仑区")
ROADS = ("文三路", "文一西路", "天目山路", "延安路", "解放路", "庆春路", "江南大道", "中山东路", "天童南路",
         "钱江路", "学院路", "体育场路", "凤起路", "莫干山路", "环城西路", "湖墅南路")
CITIES = ("杭州", "宁波", "温州", "嘉兴", "湖州", "绍兴", "金华", "台州", "上海", "南京")
BRANDS = ("恒达", "金桥", "华元", "新远", "博远", "天成", "鼎盛", "宏图", "瑞丰", "中和", "东升", "嘉禾", "永信",
          "国泰", "汇通", "联创", "万象", "百川", "正大", "华信")
TRADES = ("贸易", "科技", "建材", "餐饮", "物流", "电子", "文化传媒", "投资", "装饰工程", "医药")
OCCUPATIONS = ("教师", "工程师", "医生", "公务员", "个体经营", "企业管理", "会计", "律师", "设计师", "销售",
               "退休", None, None)
HOBBIES = ("摄影", "羽毛球", "书法", "旅游", "园艺", "钓鱼", "太极拳", "广场舞", "茶艺", "跑步", None, None)
EDUCATION = ("高中", "大专", "本科", "硕士", "博士", None)
INCOME = ("10万以下", "10-30万", "30-50万", "50-100万", "100万以上", None)
ESTATE_WORDS = ("翠湖", "锦绣", "金桥", "滨江", "西溪", "紫金", "望江", "碧水", "天鹅", "丽景", "御景", "云栖",
                "星河", "东方", "海棠", "梧桐", "香樟", "银湖", "龙湖", "春江", "绿城", "桂语", "玉兰", "明月")
ESTATE_KINDS = ("花园", "名苑", "华府", "公馆", "雅苑", "家园", "新城", "蓝湾", "府", "壹号", "里", "庭")

LINK_RATE = 0.2  # share of customers holding a unit (one unit each)
BUILDINGS_PER_PROJECT, FLOORS, DOORS = 12, 30, 4
UNITS_PER_PROJECT = BUILDINGS_PER_PROJECT * FLOORS * DOORS
PURCHASE_START = date(2015, 1, 1)


def units_needed(customers: int) -> int:
    return int(customers * LINK_RATE * 1.05) + 100


class Generator:
    def __init__(self, seed: int = 20261124):
        self.rng = random.Random(seed)
        self._surnames = list(SURNAMES[:-2]) + ["欧阳"]
        self._surname_cum = list(itertools.accumulate(SURNAME_WEIGHTS[: len(self._surnames)]))

    # --- properties ------------------------------------------------------------------------
    def estate_names(self, count: int, taken: set[str]) -> list[str]:
        names = [w + k for k in ESTATE_KINDS for w in ESTATE_WORDS]
        self.rng.shuffle(names)
        names = [n for n in names if n not in taken]
        if count > len(names):  # more estates than word pairs: number the phases (二期, 三期, ...)
            base = list(names)
            phase = 2
            while len(names) < count:
                names += [f"{n}{phase}期" for n in base]
                phase += 1
        return names[:count]

    # --- people ----------------------------------------------------------------------------
    def person_name(self) -> str:
        rng = self.rng
        return rng.choices(self._surnames, cum_weights=self._surname_cum)[0] + rng.choice(GIVEN_NAMES)

    def company_name(self) -> str:
        rng = self.rng
        return f"{rng.choice(CITIES)}{rng.choice(BRANDS)}{rng.choice(TRADES)}有限公司"

    def id_number(self, born: date, male: bool) -> str:
        rng = self.rng
        sequence = rng.randrange(0, 500) * 2 + (1 if male else 0)  # 17th digit: odd for men, even for women
        first17 = f"{rng.choice(REGIONS)}{born:%Y%m%d}{sequence:03d}"
        return first17 + id_number_check_digit(first17)

    @staticmethod
    def mobile(i: int) -> str:
        """The i-th bench mobile: unique for every i below 2.5 billion (prefix, then a bijection mod 10^8)."""
        prefix = MOBILE_PREFIXES[i % len(MOBILE_PREFIXES)]
        return prefix + f"{(i // len(MOBILE_PREFIXES) * 7919 + 12345678) % 100_000_000:08d}"

    def landline(self) -> str:
        rng = self.rng
        code = rng.choice(AREA_CODES)
        digits = 8 if len(code) == 3 or code == "0571" else rng.choice((7, 8))
        first = rng.randint(2, 8)
        return f"{code}-{first}{rng.randrange(10 ** (digits - 1)):0{digits - 1}d}"

    def address(self) -> str:
        rng = self.rng
        return f"{rng.choice(DISTRICTS)}{rng.choice(ROADS)}{rng.randint(1, 999)}号"

    def customer(self, i: int, linked: bool) -> dict:
        """Field values of the i-th bench customer (no bookkeeping columns)."""
        rng = self.rng
        company = rng.random() < 0.05
        if linked:
            stage = rng.choice(("signed", "future_owner", "owner", "owner", "owner", "member"))
        else:
            stage = rng.choice(("potential", "potential", "intended", "intended", "tenant", "owner", "member"))
        row = dict(kind="company" if company else "person", mobile=self.mobile(i), stage=stage,
                   address=self.address(), phone=self.landline() if rng.random() < 0.3 else None)
        if company:
            row.update(name=self.company_name(), main_contact=self.person_name(),
                       main_contact_phone=self.mobile(i + 1_000_000_000),
                       property_contact=self.person_name(), certificate_number=None)
        else:
            male = rng.random() < 0.5
            born = date(1950, 1, 1) + timedelta(days=rng.randrange(0, 55 * 365))
            row.update(name=self.person_name(), gender="male" if male else "female",
                       id_number=self.id_number(born, male), birthday=born,
                       occupation=rng.choice(OCCUPATIONS), hobbies=rng.choice(HOBBIES),
                       education=rng.choice(EDUCATION), income_band=rng.choice(INCOME))
        if linked:
            row["certificate_number"] = f"浙({rng.randint(2015, 2025)})不动产权第{rng.randrange(10**7):07d}号"
            row["certificate_issued_on"] = PURCHASE_START + timedelta(days=rng.randrange(0, 3650))
        return row

    def purchase(self, unit_area: Decimal) -> dict:
        rng = self.rng
        return dict(purchase_date=PURCHASE_START + timedelta(days=rng.randrange(0, 3650)), area=unit_area,
                    amount=(unit_area * Decimal(rng.randint(15_000, 60_000))).quantize(Decimal("0.01")))

    @staticmethod
    def unit_area(door: int) -> Decimal:
        return Decimal(("89.00", "119.00", "139.00", "168.00")[(door - 1) % 4])


def stamp(row: dict, actor_id: int, at: datetime) -> dict:
    """The bookkeeping columns the audit flush hook sets on an insert."""
    row.update(created_at=at, updated_at=at, created_by_id=actor_id, updated_by_id=actor_id, version=1)
    return row
