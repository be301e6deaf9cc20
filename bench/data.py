"""Deterministic, realistic bench data: Chinese names, valid ID-card numbers, unique mobiles, estates.

Everything comes from one seeded random generator, so two runs with the same N seed the same rows.
"""

from __future__ import annotations

import bisect
import itertools
import random
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal

from app.demo import (
    CHANNEL_WEIGHTS,
    CONFIRMED_HOW,
    CONSULTATIONS,
    GAP_HOURS,
    PATH,
    POSTS,
    RETURN_RECORDS,
    STOP_AFTER,
    TOPICS,
)
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


# --- complaints --------------------------------------------------------------------------------------
# 1,000,000 complaints over the last two years. Final states (share of all complaints, minimum count,
# age in days when received): most are fed back or closed as invalid; a few thousand are still open
# (the open ones are recent, like the demo's); closed ones wait for their return visit (due 7 days after
# closing: some are overdue), return-visited ones wait for the manager's feedback.
COMPLAINT_DAYS = 730
COMPLAINT_STATES = (
    ("received", 0.0008, 120, (0.0, 1.5)),
    ("confirmed", 0.0005, 20, (0.1, 2)),
    ("assessed", 0.0005, 20, (0.2, 3)),
    ("investigating", 0.0012, 20, (0.5, 6)),
    ("handling", 0.0025, 40, (1, 16)),
    ("replied", 0.0006, 20, (2, 14)),
    ("closed", 0.004, 40, (2, 16)),
    ("return_visited", 0.03, 40, (12, 120)),
    ("closed_invalid", 0.12, 40, (0.5, COMPLAINT_DAYS)),
    ("fed_back", None, 0, (20, COMPLAINT_DAYS)),  # the rest
)
STATE_CODES = tuple(state for state, *_ in COMPLAINT_STATES)
OWNER_RATE = 0.8  # share of complaints made by a customer holding a unit
RECEIVED_HOURS = (8, 9, 9, 10, 10, 11, 13, 14, 14, 15, 16, 17, 19)
# First-responsible persons: cs_staff and cs_manager (the demo users who receive complaints) and a
# customer-service team of bench users (a company receiving 1,400 complaints a day has more than two).
CS_TEAM = 18
RECEIVER_SHARES = {"cs_staff": 0.05, "cs_manager": 0.03}
REJECTED_REPLY = "已初步处理，待客户确认。"


def complaint_counts(n: int) -> dict[str, int]:
    """How many of n complaints end in each state."""
    counts = {}
    for state, share, minimum, _age in COMPLAINT_STATES:
        if share is not None:
            counts[state] = min(max(round(n * share), minimum), max(0, n - sum(counts.values())))
    counts["fed_back"] = n - sum(counts.values())
    return counts


class Deadlines:
    """app.domain.calendar.WorkCalendar.add_working_days for a million moments: the same results
    (checked against it by the seeder), from the working minutes before each day instead of a walk."""

    def __init__(self, work, first: date, last: date):
        from app.domain.calendar import OFFICE_MINUTES

        self.first, self.minutes = first, OFFICE_MINUTES
        self.workday = [work.is_workday(first + timedelta(days=d)) for d in range((last - first).days + 1)]
        self.before = [0]  # working minutes before day i
        for is_workday in self.workday:
            self.before.append(self.before[-1] + (OFFICE_MINUTES if is_workday else 0))

    def add(self, start: datetime, days: float) -> datetime:
        from app.domain.calendar import OFFICE_CLOSES, OFFICE_OPENS

        remaining = round(days * self.minutes)
        i = (start.date() - self.first).days
        if self.workday[i] and start.time() < OFFICE_CLOSES:
            moment = start if start.time() >= OFFICE_OPENS else datetime.combine(start.date(), OFFICE_OPENS)
            left = (datetime.combine(start.date(), OFFICE_CLOSES) - moment).seconds // 60
            if remaining <= left:
                return moment + timedelta(minutes=remaining)
            remaining -= left
        target = self.before[i + 1] + remaining  # from the next day's opening
        j = bisect.bisect_left(self.before, target) - 1  # the day with before[j] < target <= before[j + 1]
        return datetime.combine(self.first + timedelta(days=j), OFFICE_OPENS) + timedelta(
            minutes=target - self.before[j])


@dataclass
class ComplaintContext:
    """What the complaint generator needs from the database."""

    now: datetime
    owners: list  # [(customer id, unit id)] of the bench customers holding a unit
    first_customer: int
    last_customer: int
    unit_of: dict  # customer id -> unit id, for every linked bench customer
    receivers: list  # [(user id, username)]
    receiver_weights: list
    departments: dict  # code -> id
    manager: tuple  # (user id, username) of cs_manager


class ComplaintGenerator:
    """Complaints with the fields each state requires, as the workflow would have left them."""

    def __init__(self, ctx: ComplaintContext, deadlines: Deadlines, seed: int = 20261126):
        self.ctx, self.deadlines = ctx, deadlines
        self.rng = random.Random(seed)
        self._receivers_cum = list(itertools.accumulate(ctx.receiver_weights))
        channels = [c for c, _w in CHANNEL_WEIGHTS]
        self._channels, self._channels_cum = channels, list(itertools.accumulate(w for _c, w in CHANNEL_WEIGHTS))

    # --- when: the moments of receipt, unique to the second, in order ------------------------
    def schedule(self, n: int, taken: set[datetime]) -> list[tuple[datetime, str]]:
        """(received at, final state) of n complaints, oldest first; no two received in the same second
        (nor at the moment of a complaint already present), so that every list order is deterministic."""
        rng, now = self.rng, self.ctx.now
        used = {int(t.timestamp()) for t in taken}
        found = []
        for state, count in complaint_counts(n).items():
            low, high = next(age for s, _share, _min, age in COMPLAINT_STATES if s == state)
            for _ in range(count):
                received = now - timedelta(days=rng.uniform(low, high))
                received = received.replace(hour=rng.choice(RECEIVED_HOURS), minute=rng.randrange(60),
                                            second=rng.randrange(60), microsecond=0)
                if received > now - timedelta(minutes=30):
                    received = (now - timedelta(minutes=rng.randint(30, 240), seconds=rng.randrange(60)))
                key = int(received.timestamp())
                while key in used:
                    key -= 1
                    received -= timedelta(seconds=1)
                used.add(key)
                found.append((received, state))
        found.sort()
        return found

    # --- what ---------------------------------------------------------------------------------
    def _customer(self) -> tuple[int, int | None]:
        rng, ctx = self.rng, self.ctx
        if ctx.owners and rng.random() < OWNER_RATE:
            return ctx.owners[rng.randrange(len(ctx.owners))]
        customer = rng.randint(ctx.first_customer, ctx.last_customer)
        return customer, ctx.unit_of.get(customer)

    def complaint(self, complaint_id: int, received: datetime, final: str) -> tuple[dict, tuple[int, str]]:
        """The complaint's columns (no bookkeeping) and its receiver (user id, username)."""
        rng, ctx = self.rng, self.ctx
        receiver = ctx.receivers[bisect.bisect_left(self._receivers_cum, rng.random() * self._receivers_cum[-1])]
        customer_id, unit_id = self._customer()
        channel = self._channels[bisect.bisect_left(self._channels_cum, rng.random() * self._channels_cum[-1])]
        row = dict(id=complaint_id, channel=channel, customer_id=customer_id, unit_id=unit_id, received_at=received,
                   state=final, first_responsible_id=receiver[0], plan_approved=False, rehandling_count=0)
        self._deadlines(row, 1)
        if final == "closed_invalid":
            content, explanation = rng.choice(CONSULTATIONS)
            moment = self._after(received, [GAP_HOURS["close_invalid"]])[0]
            row.update(content=content, invalid_explanation=explanation, closed_at=moment, state_changed_at=moment)
            return row, receiver
        topic = rng.choice(TOPICS)
        row["content"] = topic.content.format(unit="本户")
        path = PATH[:STOP_AFTER[final]]
        serious = STOP_AFTER[final] >= 3 and rng.random() < topic.serious
        rehandlings = (1 if rng.random() < 0.8 else 2) if STOP_AFTER[final] >= 4 and rng.random() < 0.12 else 0
        moments = self._after(received, [GAP_HOURS[a] for a in path])
        row["state_changed_at"] = moments[-1] if moments else received
        for action, moment in zip(path, moments, strict=True):
            if action == "confirm":
                row["confirmed_how"] = rng.choice(CONFIRMED_HOW)
            elif action == "assess":
                row.update(severity=("crisis" if rng.random() < 0.2 else "major") if serious else "general",
                           category=topic.category)
                if serious:
                    row.update(legal_opinion="法务意见：先行委托第三方鉴定，按合同和相关法规承担责任，避免书面承诺超出合同范围。",
                               handling_plan=f"{topic.measures}由{POSTS[topic.department][1]}牵头，每周向客户通报进度。",
                               plan_approved=True)
                    self._deadlines(row, 0.5)
            elif action == "assign":
                post, person = POSTS[topic.department]
                row.update(department_id=ctx.departments[topic.department], assigned_post=post, assigned_person=person)
            elif action == "start_handling":
                row.update(cause_analysis=topic.cause, report=f"现场调查报告：{topic.cause}", measures=topic.measures,
                           handling_person=POSTS[topic.department][1],
                           handling_deadline=(received + timedelta(days=rng.randint(8, 20))).date())
                if rehandlings and final == "handling":  # back to handling after a rejected reply
                    row.update(reply_result=REJECTED_REPLY, customer_accepted=False,
                               satisfaction=rng.choice((1, 2)), rehandling_count=rehandlings)
            elif action == "reply":
                row.update(reply_result=topic.reply, customer_accepted=True, satisfaction=rng.choice((3, 4, 4, 5, 5)),
                           rehandling_count=rehandlings)
            elif action == "close":
                row.update(department_signed_off=True, person_signed_off=True, closed_at=moment,
                           return_visit_due_at=moment + timedelta(days=7))
            elif action == "return_visit":
                row.update(return_visit_method=rng.choice(("phone", "phone", "on_site")),
                           return_visit_record=rng.choice(RETURN_RECORDS),
                           return_visit_satisfaction=rng.choice((3, 4, 5, 5)), return_visited_at=moment)
            elif action == "feed_back":
                row.update(root_cause=topic.root_cause, improvement=topic.improvement)
        return row, receiver

    def _deadlines(self, row: dict, factor: float) -> None:
        from app.domain.complaints import ACKNOWLEDGE_WORKING_HOURS

        received, add = row["received_at"], self.deadlines.add
        # 受理回执 within the working hours set (not shortened for a serious complaint), as set_deadlines does.
        row.update(acknowledge_due_at=add(received, ACKNOWLEDGE_WORKING_HOURS * 60 / self.deadlines.minutes),
                   assign_due_at=add(received, 0.5 * factor), investigate_due_at=add(received, 3 * factor),
                   close_due_at=add(received, 7 * factor))

    def _after(self, start: datetime, gaps: list[tuple[float, float]]) -> list[datetime]:
        """The moments of the steps: random gaps, squeezed to end a quarter of an hour before now."""
        hours = [self.rng.uniform(low, high) for low, high in gaps]
        room = (self.ctx.now - start).total_seconds() / 3600 - 0.25
        total = sum(hours)
        scale = min(1.0, room / total) if total > 0 and room > 0 else (1.0 if room > 0 else 0.0)
        moments, moment = [], start
        for h in hours:
            moment += timedelta(hours=h * scale)
            moments.append(moment.replace(microsecond=0))
        return moments


def receive_step(step_id: int, complaint: dict, receiver: tuple[int, str]) -> dict:
    """The `receive` entry complaints.open_complaint writes (no fields, no comment)."""
    return dict(id=step_id, complaint_id=complaint["id"], action="receive", from_state="", to_state="received",
                actor_id=receiver[0], actor_name=receiver[1], at=complaint["received_at"], comment=None, data=None)
