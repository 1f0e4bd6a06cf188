"""Physical descriptions (体貌特征, 特征, 健康状况) → marks, build, hair and conditions.

Families and station staff describe the same body in different words: a family writes 痦子 where
the station writes 黑痣, 胳膊 where the station writes 手臂, 瘸 where the station writes 跛行. This
module maps both wordings onto one canonical form so a matcher can compare them::

    >>> d = parse_description("左脸颊有一颗黑痣，右手臂纹有青龙，右手小拇指少一截，体型偏瘦")
    >>> [str(m) for m in d.marks]
    ['痣:脸:左', '纹身:臂:右:龙', '缺指:手:右:小指']
    >>> d.build
    '瘦'
    >>> str(parse_description("痦子长在左侧面部").marks[0])
    '痣:脸:左'

A mark's canonical string is ``type:part:side`` plus ``:detail`` when there is one (the tattoo's
motif, the missing finger). Side is ``左``, ``右`` or empty. Explicit negations (无纹身, 没有疤,
未见明显特征) produce no mark but are listed in ``Description.negated`` so a comparison can tell
"explicitly no tattoo" from "tattoo not mentioned".

Everything is driven by the regex tables below (``MARK_PATTERNS``, ``PART_PATTERNS``,
``BUILD_PATTERNS``, ``HAIR_PATTERNS``, ``CONDITION_PATTERNS``, ``MOTIF_PATTERNS``): to teach the
parser a new synonym, add one line to a table, not a code branch.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from dataclasses import dataclass
from types import MappingProxyType
from typing import Iterable, Mapping, NamedTuple

import pandas as pd

__all__ = [
    "Mark",
    "Description",
    "MARK_TYPES",
    "CONDITIONS",
    "MARK_RARITY",
    "parse_description",
    "parse_descriptions",
    "parse_conditions",
    "mark_rarity_table",
    "mirror",
    "merge_marks",
    "describe_mark",
]

# ---------------------------------------------------------------------------------------------
# Tables. Each row: (canonical value, regex). Within a table, earlier rows win where two rows
# could match the same words, so put the longer / more specific wording first.
# ---------------------------------------------------------------------------------------------

_FINGER = r"(?P<finger>大拇指|大拇哥|拇指|二拇指|食指|中指|无名指|小拇指|小指|尾指)"
_FINGER_CANON = {
    "大拇指": "拇指", "大拇哥": "拇指", "拇指": "拇指", "二拇指": "食指", "食指": "食指",
    "中指": "中指", "无名指": "无名指", "小拇指": "小指", "小指": "小指", "尾指": "小指",
}
_LOSS = (r"(?:缺失|缺损|残缺|缺了?(?:一截|半截|一节)?|少了?(?:一截|半截|一节)|断了?(?:一截|半截|一节)?"
         r"|没了|被切断|截断|截肢|不全)")
_QTY = r"(?:一根|一个|一截|半截|一节|半根|两根|一只)?"
_SIDE = r"(?P<side>[左右])?"

MARK_PATTERNS: tuple[tuple[str, str], ...] = (
    # tattoos first: 纹 must not be read as anything else
    ("纹身", r"纹身|文身|刺青|纹(?:有|了|着)|"
             r"刺(?:有|了|着)?(?=[^，]{0,6}(?:字|图案|龙|虎|鹰|花|蝴蝶|凤|蛇|鱼|观音|佛|骷髅|狼|豹|蝎|星|心))"),
    # missing / extra fingers
    ("缺指", _FINGER + r"(?:指头)?" + _LOSS),
    ("缺指", r"(?:缺|少|断|没有)了?" + _QTY + _FINGER),
    ("缺指", r"断指|缺指|残指|(?:手指|指头)" + _LOSS + r"|(?:缺|少|断)了?" + _QTY + r"(?:手指|指头)"
             r"|少一截|(?:缺|少)了?(?:(?P<side>[左右])脚)?" + _QTY + r"[大小]?(?P<toe>脚趾)"
             r"|(?P<toe2>脚趾)" + _LOSS),
    ("六指", r"六指|六个(?:手)?指头?|六根(?:手)?指头?|多指|多(?:长)?了?一(?:根|个)?(?:手指|指头|指)|枝指|骈指"),
    # gait
    ("跛", r"走路一瘸一拐|一瘸一拐|腿脚不便|行走不便|走路不便|腿脚不灵便|腿脚不好|腿(?:不便|不灵便|不好使)|"
           r"瘸腿|瘸子|跛行|跛脚|跛足|跛|瘸|拄拐"),
    # mouth and teeth
    ("兔唇", r"兔唇|兔子嘴|唇裂|豁嘴|豁唇|三瓣嘴"),
    ("金牙", r"镶了?(?:一颗|两颗|几颗|颗)?金牙|包金牙|金色假牙|金门牙|金牙|镶金"),
    ("龅牙", r"龅牙|暴牙|哨牙|牙齿外突|门牙外凸|门牙突出|牙齿前突"),
    ("缺牙", r"(?:门牙|牙齿|门齿|牙)(?:缺失|脱落|掉了?|缺了?|少了?|没了|不全|缺损)"
             r"|缺(?:了)?(?:一颗|两颗|几颗|颗)?(?:门)?牙|掉了?(?:一颗|两颗|几颗|颗)?(?:门)?牙|豁牙|缺牙|无牙|牙(?:都)?掉光"),
    # eyes
    ("独眼", _SIDE + r"眼(?:睛)?(?:失明|已瞎|瞎了?|看不见)|独眼|一只眼(?:睛)?(?:失明|瞎了?|看不见)"
             r"|单眼失明|瞎了?一只眼|一目失明|独眼龙"),
    ("斜视", r"斜视|斗鸡眼|对眼|眼(?:睛)?斜"),
    # head and back
    # 秃顶 / 谢顶 / 光头 are hair (HAIR_PATTERNS), not marks: families and stations use 光头 and
    # 秃顶 for the same head, and a mark on one side only would read as a contradiction.
    ("驼背", r"驼背|罗锅|佝偻|背驼|弓背"),
    # hearing and speech
    ("聋哑", r"聋哑|又聋又哑|哑巴"),
    ("耳聋", _SIDE + r"耳(?:朵)?(?:聋|失聪|听不见)|耳聋|失聪|聋"),
    # skin
    ("烧伤", r"烧伤(?:疤痕|痕迹|疤)?|烧烫伤|烫伤(?!疤)|火烧(?:伤|痕迹)"),
    ("胎记", r"胎记|青记|红记|胎斑|胎痣|青色斑块"),
    ("疤痕", r"烫伤疤(?:痕)?|手术疤(?:痕)?|手术刀口|刀口|刀疤|伤疤|疤痕|瘢痕|伤痕|缝针(?:的)?(?:痕迹|印)|疤"),
    ("痣", r"黑痣|肉痣|红痣|美人痣|痦子|黑点|痣"),
    ("肿块", r"脂肪瘤|肉瘤|瘤子|肿瘤|肿块|包块|鼓包|大包|肉包|肿包|囊肿|肉疙瘩|疙瘩|瘤"),
)
"""(mark type, regex) in priority order. Named groups: ``finger`` (缺指 detail), ``side`` (a side
written inside the mark words, e.g. 左眼失明), ``toe``/``toe2`` (missing toe → part 脚)."""

MARK_TYPES: tuple[str, ...] = tuple(dict.fromkeys(t for t, _ in MARK_PATTERNS))

PART_PATTERNS: tuple[tuple[str, str], ...] = (
    ("额头", r"额头|前额|额部|额角|脑门"),
    ("下巴", r"下巴|下颌|下颚"),
    ("眉", r"眉毛|眉骨|眉心|眉"),
    ("眼", r"眼角|眼皮|眼睛|眼眶|眼(?!镜)"),
    ("鼻", r"鼻子|鼻梁|鼻翼|鼻尖|鼻"),
    ("耳", r"耳朵|耳垂|耳后|耳"),
    ("嘴", r"嘴角|嘴唇|上唇|下唇|嘴边|唇边|嘴|唇"),
    ("脸", r"脸颊|面颊|脸部|面部|脸蛋|脸上|脸|颊|颧骨"),
    ("颈", r"脖子|脖颈|颈部|颈"),
    ("头", r"头顶|头皮|头部|后脑勺|后脑|头(?![发型])"),
    ("肩", r"肩膀|肩部|肩头|肩"),
    ("手背", r"手背"),
    ("手腕", r"手腕|腕部|腕"),
    ("臂", r"手臂|胳膊|胳臂|上臂|前臂|小臂|大臂|上肢|臂"),
    ("手", r"手掌|手心|手指|指头|手(?![术])"),
    ("胸", r"胸口|胸前|胸部|胸膛|胸"),
    ("腹", r"肚子|腹部|小腹|肚脐|肚皮|腹"),
    ("背", r"后背|背部|背上|背(?![包着])"),
    ("腰", r"腰部|后腰|腰"),
    ("臀", r"屁股|臀部|臀"),
    ("膝", r"膝盖|膝部|膝"),
    ("腿", r"大腿|小腿|腿部|下肢|腿"),
    ("脚", r"脚踝|脚背|脚掌|脚底|脚趾|脚|足"),
)
"""(canonical body part, regex). Side words (左/右, 左侧, 右边…) next to a part give its side."""

# Types whose body part is fixed by the word itself; a found part is kept only if listed.
_TYPE_PARTS: Mapping[str, tuple[str, tuple[str, ...]]] = MappingProxyType({
    "缺指": ("手", ("手", "脚")),
    "六指": ("手", ("手", "脚")),
    "跛": ("腿", ()),
    "兔唇": ("嘴", ()),
    "金牙": ("牙", ()),
    "龅牙": ("牙", ()),
    "缺牙": ("牙", ()),
    "独眼": ("眼", ()),
    "斜视": ("眼", ()),
    "驼背": ("背", ()),
    "耳聋": ("耳", ()),
    "聋哑": ("", ()),
})

MOTIF_PATTERNS: tuple[tuple[str, str], ...] = (
    ("龙", r"青龙|飞龙|盘龙|龙"),
    ("凤", r"凤凰|凤"),
    ("虎", r"老虎|虎头|下山虎|虎"),
    ("鹰", r"老鹰|雄鹰|鹰"),
    ("蝴蝶", r"蝴蝶"),
    ("蝎子", r"蝎子"),
    ("蛇", r"蛇"),
    ("鱼", r"鲤鱼|金鱼|鱼"),
    ("观音", r"观音|菩萨"),
    ("佛", r"佛像|佛祖|佛"),
    ("骷髅", r"骷髅|骷髅头"),
    ("狼", r"狼头|狼"),
    ("豹", r"豹子|豹"),
    ("麒麟", r"麒麟"),
    ("蜘蛛", r"蜘蛛"),
    ("十字架", r"十字架"),
    ("心", r"爱心|心形|桃心"),
    ("星", r"五角星|星星"),
    ("花", r"玫瑰花|玫瑰|莲花|荷花|梅花|花朵|花(?!白)"),
)
"""Tattoo motifs (detail of a 纹身 mark). Written characters become ``字"X"``."""

BUILD_PATTERNS: tuple[tuple[str, str], ...] = (
    ("瘦", r"偏瘦|消瘦|瘦弱|较瘦|瘦小|很瘦|瘦高|瘦削|瘦"),
    ("胖", r"偏胖|肥胖|较胖|微胖|胖|壮实|健壮|魁梧|粗壮|结实|壮(?!族)"),
    ("中等", r"(?<!高)(?<!子)(?<!头)中等(?!身高|个)|匀称|适中"),
)

HAIR_PATTERNS: tuple[tuple[str, str], ...] = (
    ("光头", r"光头|剃光头|光着头"),
    ("秃顶", r"秃顶|谢顶|秃头|头顶秃|地中海|头发(?:稀少|稀疏)|脱发"),
    ("白发", r"白发|花白|白头发|银发|斑白|头发白"),
    ("短发", r"短发|平头|寸头|板寸|短头发"),
    ("长发", r"长发|长头发|头发较?长|披肩发|马尾辫?|辫子"),
)

CONDITION_PATTERNS: tuple[tuple[str, str], ...] = (
    ("痴呆", r"老年痴呆|痴呆|阿尔茨海默|阿兹海默|失智|认知障碍|记忆力?(?:差|减退|衰退|不好|丧失)|糊涂"),
    ("智力障碍", r"智力障碍|智力低下|智力残疾|智力偏低|智力差|智力有问题|智力不正常|智障|弱智|反应迟钝|智商低|"
                 r"脑子不(?:太)?(?:灵光|好使|灵)|脑子有问题"),
    ("精神障碍", r"精神障碍|精神病|精神分裂|精神异常|精神失常|精神不正常|精神疾病|精神残疾"
                 r"|精神(?:状[态况])?(?:有问题|不好|异常|差)|言语混乱|胡言乱语|抑郁症|躁狂|狂躁|(?<![癫角])疯"),
    ("聋哑", r"聋哑|不会说话|不能言语|不能说话|哑巴|听力障碍|听力差|听不见|失聪|耳聋|聋|哑"),
    ("肢体残疾", r"肢体残疾|肢体障碍|肢残|截肢|瘫痪|偏瘫|行动不便|行走不便|走路不便|腿脚不便|坐轮椅|"
                 r"[上下]肢残疾|[腿手脚]有?残疾"),
    ("癫痫", r"癫痫|羊癫疯|羊角风|抽风"),
)

_HAIR_ORDER = [v for v, _ in HAIR_PATTERNS]

CONDITIONS: tuple[str, ...] = tuple(dict.fromkeys(c for c, _ in CONDITION_PATTERNS))

# Negation: a negation word opens a scope that runs to the end of the clause or to a word that
# re-affirms something (但, 可见, a plain 有). "无纹身、疤痕" negates both.
_NEGATION = re.compile(r"无(?!名指)|没有|没|未见|未发现|未有|并无|不见|否认|不是")
_NEG_BREAK = re.compile(r"但|却|而|只有|仅有|可见|(?<![没无未])有(?!明显|任何|什么|其他)")
_GENERAL_FEATURE = re.compile(r"明显特征|特殊特征|体貌特征|显著特征|特征|标记|异常|记号")
NEGATED_GENERAL = "特征"
"""Entry of ``Description.negated`` for a general "无明显特征" (no notable marks at all)."""

MARK_RARITY: Mapping[str, float] = MappingProxyType({
    "痣": 0.30, "疤痕": 0.25, "缺牙": 0.10, "胎记": 0.05, "纹身": 0.05,
    "跛": 0.03, "龅牙": 0.02, "驼背": 0.02, "金牙": 0.01, "斜视": 0.01, "耳聋": 0.01,
    "烧伤": 0.01, "肿块": 0.01, "缺指": 0.005, "独眼": 0.005, "聋哑": 0.003,
    "兔唇": 0.001, "六指": 0.001,
})
"""Hand-written prior share of adults whose description mentions each mark type.

These are **estimates**, not measurements: orders of magnitude from general population figures
(moles and scars are common, cleft lip and polydactyly are about 1 in 1,000 births) and from how
often such words appear in published family-search notices. A matcher may use ``-log2`` of these
as the weight of agreeing on a mark type; replace with frequencies counted on real data when
available."""

_CLAUSE_SPLIT = re.compile(r"[，,。；;！!？?：:\s/|（）()\[\]【】]+")
_MASK = "\x00"


def _compile(table: Iterable[tuple[str, str]]) -> tuple[tuple[str, re.Pattern], ...]:
    return tuple((value, re.compile(pattern)) for value, pattern in table)


@functools.lru_cache(maxsize=1)
def _compiled():
    parts = _compile(PART_PATTERNS)
    part_regex = re.compile("|".join(f"(?P<p{i}>{p.pattern})" for i, (_, p) in enumerate(parts)))
    motifs = _compile(MOTIF_PATTERNS)
    motif_regex = re.compile("|".join(f"(?P<m{i}>{p.pattern})" for i, (_, p) in enumerate(motifs)))
    return {
        "marks": _compile(MARK_PATTERNS),
        # one alternation of every mark wording (inner groups unnamed): a cheap "any mark here?"
        "any_mark": re.compile("|".join(re.sub(r"\(\?P<\w+>", "(?:", p) for _, p in MARK_PATTERNS)),
        "part_regex": part_regex,
        "part_names": tuple(v for v, _ in parts),
        "motif_regex": motif_regex,
        "motif_names": tuple(v for v, _ in motifs),
        "build": _compile(BUILD_PATTERNS),
        "hair": _compile(HAIR_PATTERNS),
        "conditions": _compile(CONDITION_PATTERNS),
    }


# ---------------------------------------------------------------------------------------------
# Values
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, order=True)
class Mark:
    """One physical mark. ``str(mark)`` is the canonical ``type:part:side[:detail]`` form.

        >>> str(Mark("缺指", "手", "左", "小指"))
        '缺指:手:左:小指'
        >>> Mark.from_string("疤痕:额头:")
        Mark(type='疤痕', part='额头', side='', detail='')
    """

    type: str
    part: str = ""
    side: str = ""
    detail: str = ""

    def __str__(self) -> str:
        base = f"{self.type}:{self.part}:{self.side}"
        return f"{base}:{self.detail}" if self.detail else base

    @classmethod
    def from_string(cls, text: str) -> "Mark":
        """Parse a canonical mark string back into a :class:`Mark`."""
        pieces = str(text).split(":", 3)
        pieces += [""] * (4 - len(pieces))
        return cls(*pieces)


@dataclass(frozen=True)
class Description:
    """The structured reading of one free-text description.

    ``marks`` are sorted and unique; ``negated`` lists mark types explicitly denied (and
    ``"特征"`` for a general 无明显特征); ``other`` keeps the clauses nothing recognised, so no
    information silently disappears.
    """

    marks: tuple[Mark, ...] = ()
    build: str | None = None
    hair: str | None = None
    conditions: tuple[str, ...] = ()
    other: tuple[str, ...] = ()
    negated: tuple[str, ...] = ()

    @property
    def mark_strings(self) -> tuple[str, ...]:
        return tuple(str(m) for m in self.marks)


def mirror(mark: "Mark | str") -> "Mark | str":
    """Swap left and right: families often describe the body as they face it.

        >>> mirror("痣:脸:左")
        '痣:脸:右'
        >>> mirror(Mark("疤痕", "额头"))
        Mark(type='疤痕', part='额头', side='', detail='')
    """
    if isinstance(mark, str):
        return str(mirror(Mark.from_string(mark)))
    swapped = {"左": "右", "右": "左"}.get(mark.side, mark.side)
    return Mark(mark.type, mark.part, swapped, mark.detail)


def mark_rarity_table() -> pd.DataFrame:
    """``MARK_RARITY`` as a frame (type, prior_frequency), rarest first. Values are estimates."""
    frame = pd.DataFrame(list(MARK_RARITY.items()), columns=["type", "prior_frequency"])
    return frame.sort_values("prior_frequency", kind="stable").reset_index(drop=True)


# Chinese phrase of a mark, used to render notices; ``parse_description`` reads it back.
_PHRASE = {
    "缺指": "{side}{part}缺{detail}", "六指": "{side}{part}六指", "跛": "{side}{part}跛",
    "兔唇": "兔唇", "金牙": "镶金牙", "龅牙": "龅牙", "缺牙": "缺牙", "独眼": "{side}眼失明",
    "斜视": "斜视", "驼背": "驼背", "耳聋": "{side}耳聋", "聋哑": "聋哑",
}


def describe_mark(mark: "Mark | str") -> str:
    """A short Chinese phrase for a mark, e.g. for a notice.

        >>> describe_mark("纹身:臂:右:龙")
        '右臂纹身(龙)'
        >>> describe_mark("缺指:手:左:小指")
        '左手缺小指'
    """
    if isinstance(mark, str):
        mark = Mark.from_string(mark)
    part = "" if mark.part == "牙" else mark.part
    template = _PHRASE.get(mark.type)
    if template is not None:
        return template.format(side=mark.side, part=part, detail=mark.detail or "手指")
    detail = f"({mark.detail})" if mark.detail else ""
    return f"{mark.side}{part}{mark.type}{detail}"


# ---------------------------------------------------------------------------------------------
# Parsing
# ---------------------------------------------------------------------------------------------

_QUOTED = re.compile(r"[\"“”'‘’「」『』《》]([^\"“”'‘’「」『』《》]{1,8})[\"“”'‘’「」『』《》]")
_WRITTEN = re.compile(r"([\u4e00-\u9fff]{1,3})字(?!母)")
_NOT_CONTENT = "一个两二几些有着的了汉文是刻写纹上"
_LOCATIVE = re.compile(r"位于|位置|部位|长在|在")
_SIDE_BEFORE = re.compile(r"(左右|双|两|[左右])(?:侧|边|面)?(?:的)?$")
_SIDE_AFTER = re.compile(r"^(?:上|部|处|的)?([左右])(?:侧|边|面)?")


def _clean(text: str) -> str:
    text = unicodedata.normalize("NFKC", text)
    return _to_simplified(text)


@functools.lru_cache(maxsize=1)
def _converter():
    import opencc  # well-kept traditional→simplified tables; a hand-written map would drift

    return opencc.OpenCC("t2s")


def _to_simplified(text: str) -> str:
    try:
        return _converter().convert(text)
    except Exception:  # opencc refuses some lone surrogates; keep the text as it is
        return text


def _side_of(clause: str, start: int, end: int) -> str:
    before = _SIDE_BEFORE.search(clause[max(0, start - 4):start])
    if before:
        return before.group(1) if before.group(1) in "左右" else ""
    after = _SIDE_AFTER.search(clause[end:end + 4])
    return after.group(1) if after else ""


def _negated_spans(clause: str) -> list[tuple[int, int]]:
    spans = []
    for neg in _NEGATION.finditer(clause):
        stop = _NEG_BREAK.search(clause, neg.end())
        spans.append((neg.start(), stop.start() if stop else len(clause)))
    return spans


def _inside(pos: int, spans: list[tuple[int, int]]) -> bool:
    return any(a <= pos < b for a, b in spans)


def _tattoo_detail(clause: str, masked: str, start: int, end: int, tables) -> str:
    quoted = _QUOTED.search(clause)
    if quoted:
        return f'字"{quoted.group(1)}"'
    # Look at the unmasked text near the tattoo word, nearest motif first.
    best = None
    for m in tables["motif_regex"].finditer(masked):
        distance = m.start() - end if m.start() >= end else start - m.end()
        if best is None or distance < best[0]:
            name = tables["motif_names"][int(m.lastgroup[1:])]
            best = (distance, name)
    written = _WRITTEN.search(masked)
    if written:
        content = written.group(1).lstrip(_NOT_CONTENT)
        if content and (best is None or best[1] not in content):
            return f'字"{content}"'
        if not content and best is None:
            return "字"
    if "字母" in masked or "英文" in masked:
        return "字母"
    return best[1] if best else ""


class _Clause(NamedTuple):
    """What one clause says on its own (cached per distinct clause)."""

    marks: tuple[Mark, ...]
    negated: frozenset
    recognised: bool
    builds: tuple[str, ...]
    hairs: tuple[str, ...]
    conditions: tuple[str, ...]
    locates: tuple[str, str] | None  # (part, side) if the clause only says where something is
    motif: str  # a tattoo motif the clause names, for a tattoo in the previous clause


def _first(table, text: str, spans: list[tuple[int, int]]) -> tuple[str, ...]:
    hits = []
    for value, regex in table:
        for m in regex.finditer(text):
            if not _inside(m.start(), spans):
                hits.append((m.start(), value))
                break
    return tuple(v for _, v in sorted(hits))


@functools.lru_cache(maxsize=100_000)
def _analyse_clause(clause: str) -> _Clause:
    # Descriptions repeat the same clauses in different combinations, so caching per clause
    # (not only per whole text) is what makes a million reports cheap.
    tables = _compiled()
    neg_spans = _negated_spans(clause)
    masked = clause
    found = []  # (start, end, type, groupdict)
    if tables["any_mark"].search(clause):
        for mark_type, regex in tables["marks"]:
            new = [(m.start(), m.end(), mark_type, m.groupdict()) for m in regex.finditer(masked)]
            if new:
                found += new
                chars = list(masked)
                for s, e, *_ in new:
                    chars[s:e] = _MASK * (e - s)
                masked = "".join(chars)
    found.sort()
    # Parts outside every mark's words.
    parts = [(p.start(), p.end(), tables["part_names"][int(p.lastgroup[1:])])
             for p in tables["part_regex"].finditer(masked)]
    marks, negated = [], set()
    for index, (start, _end, mark_type, _groups) in enumerate(found):
        if _inside(start, neg_spans):
            negated.add(mark_type)
            continue
        marks.append(_locate_mark(clause, masked, found, index, parts, tables))
    for neg_start, neg_end in neg_spans:
        if _GENERAL_FEATURE.search(clause, neg_start, neg_end):
            negated.add(NEGATED_GENERAL)
    locates, motif = None, ""
    if not found and not neg_spans:
        # Only a locating clause ("位于左脸", "在右臂上", or just "左脸上") places a mark of the
        # previous clause: "戴眼镜" names a body part without saying where a mark is.
        if parts and (_LOCATIVE.search(clause) or len(clause) - (parts[0][1] - parts[0][0]) <= 2):
            locates = (parts[0][2], _side_of(clause, parts[0][0], parts[0][1]))
        motif = _tattoo_detail(clause, masked, 0, 0, tables)
    return _Clause(
        marks=tuple(marks),
        negated=frozenset(negated),
        recognised=bool(found) or bool(negated),
        builds=_first(tables["build"], clause, neg_spans),
        hairs=_first(tables["hair"], clause, neg_spans),
        conditions=_first(tables["conditions"], clause, neg_spans),
        locates=locates,
        motif=motif,
    )


def _locate_mark(clause: str, masked: str, found: list, index: int, parts: list, tables) -> Mark:
    """Part, side and detail of the ``index``-th mark found in a clause."""
    start, end, mark_type, groups = found[index]
    part, side = "", ""
    # The nearest part before the mark, unless another mark sits between them and a part
    # follows ("痣在左脸疤在手臂"); then the part after.
    prev_mark_end = found[index - 1][1] if index else -1
    next_mark_start = found[index + 1][0] if index + 1 < len(found) else len(clause)
    before = [p for p in parts if p[1] <= start]
    after = [p for p in parts if p[0] >= end and p[0] < next_mark_start]
    chosen = None
    if before and (before[-1][1] > prev_mark_end or not after):
        chosen = before[-1]
    elif after:
        chosen = after[0]
    if chosen is not None:
        part = chosen[2]
        side = _side_of(clause, chosen[0], chosen[1])
    elif not groups.get("side"):
        side = _side_of(clause, start, end)
    if groups.get("side"):
        side = groups["side"]
    if groups.get("toe") or groups.get("toe2"):
        part = "脚"
    if mark_type in _TYPE_PARTS:
        default, allowed = _TYPE_PARTS[mark_type]
        if part not in allowed:
            part = default
    detail = ""
    if mark_type == "缺指":
        finger = groups.get("finger")
        if finger is None:
            near = re.search(_FINGER, clause)
            finger = near.group("finger") if near else None
        detail = _FINGER_CANON.get(finger, "") if finger else ""
    elif mark_type == "纹身":
        detail = _tattoo_detail(clause, masked, start, end, tables)
    return Mark(mark_type, part, side, detail)


def _drop_less_specific(marks: set[Mark]) -> tuple[Mark, ...]:
    """Sorted marks without those another mark says more precisely: "走路跛，左腿不便" is one
    limp on the left (跛:腿:左), not also an unsided limp (跛:腿:)."""
    def covers(a: Mark, b: Mark) -> bool:  # a says everything b says, and more
        return a != b and a.type == b.type and all(
            getattr(b, f) in ("", getattr(a, f)) for f in ("part", "side", "detail"))
    return tuple(sorted(m for m in marks if not any(covers(o, m) for o in marks)))


@functools.lru_cache(maxsize=100_000)
def parse_description(text: str | None) -> Description:
    """Read one free-text description (or health text) into a :class:`Description`.

        >>> d = parse_description("无明显特征，头发花白，疑似老年痴呆")
        >>> d.marks, d.hair, d.conditions, d.negated
        ((), '白发', ('痴呆',), ('特征',))
        >>> parse_description("没有纹身，脖子上有块青色胎记").mark_strings
        ('胎记:颈:',)

    Never raises on odd input: ``None``, numbers and blanks give an empty description.
    """
    if text is None or not isinstance(text, str):
        if text is None or (isinstance(text, float) and text != text):
            return Description()
        text = str(text)
    text = _clean(text).strip()
    if not text:
        return Description()
    marks: list[Mark] = []
    negated: set[str] = set()
    builds: list[str] = []
    hairs: list[str] = []
    conditions: list[str] = []
    other: list[str] = []
    previous_had_marks = False
    for clause_text in _CLAUSE_SPLIT.split(text):
        if not clause_text:
            continue
        clause = _analyse_clause(clause_text)
        recognised = clause.recognised or bool(clause.builds or clause.hairs or clause.conditions)
        if previous_had_marks and not clause.marks and (clause.locates or clause.motif):
            # "有一颗痣，位于左脸", "右胳膊刺青，图案为龙": fill what the previous mark left blank.
            last = marks[-1]
            part, side, detail = last.part, last.side, last.detail
            if clause.locates and not part and last.type not in _TYPE_PARTS:
                part, side = clause.locates[0], side or clause.locates[1]
            if last.type == "纹身" and not detail:
                detail = clause.motif
            updated = Mark(last.type, part, side, detail)
            if updated != last:
                marks[-1] = updated
                recognised = True
        marks += clause.marks
        negated |= clause.negated
        builds += clause.builds
        hairs += clause.hairs
        conditions += clause.conditions
        previous_had_marks = bool(clause.marks)
        if not recognised and not _NEGATION.search(clause_text):
            other.append(clause_text)
    # A mark that is present overrides a denial of the same type elsewhere in the text.
    unique_marks = _drop_less_specific(set(marks))
    present = {m.type for m in unique_marks}
    hair_words = sorted(set(hairs), key=_HAIR_ORDER.index)
    condition_set = set(conditions)
    return Description(
        marks=unique_marks,
        build=builds[0] if builds else None,
        hair="、".join(hair_words) if hair_words else None,
        conditions=tuple(c for c in CONDITIONS if c in condition_set),
        other=tuple(dict.fromkeys(other)),
        negated=tuple(sorted(t for t in negated if t not in present)),
    )


def merge_marks(*groups: Iterable[str]) -> tuple[str, ...]:
    """Union of canonical mark strings from several texts (description, health), sorted, without
    marks another one states more precisely.

        >>> merge_marks(["跛:腿:左", "痣:脸:左"], ["跛:腿:"])
        ('痣:脸:左', '跛:腿:左')
    """
    marks = {Mark.from_string(m) for group in groups for m in group}
    return tuple(str(m) for m in _drop_less_specific(marks))


def parse_conditions(text: str | None) -> tuple[str, ...]:
    """Plain-word conditions (subset of ``CONDITIONS``) in a health or description text.

        >>> parse_conditions("疑似精神障碍，不会说话")
        ('精神障碍', '聋哑')
    """
    return parse_description(text).conditions


DESCRIPTION_COLUMNS = ["marks", "negated", "build", "hair", "conditions"]


def parse_descriptions(series: pd.Series) -> pd.DataFrame:
    """Vectorized :func:`parse_description`: one row per input row, same index.

    Each distinct text is parsed once, so a million reports that repeat a few thousand phrasings
    cost a few thousand parses. ``marks`` holds canonical strings (tuples, hashable).

        >>> parse_descriptions(pd.Series(["左脸有痣", None, "左脸有痣"])).marks.tolist()
        [('痣:脸:左',), (), ('痣:脸:左',)]
    """
    try:
        codes, uniques = pd.factorize(series, use_na_sentinel=True)
    except TypeError:  # unhashable cells (lists from a hand-built frame): read their text
        codes, uniques = pd.factorize(series.map(lambda v: v if v is None else str(v)), use_na_sentinel=True)
    parsed = [parse_description(value) for value in uniques]
    empty = Description()
    columns = {
        "marks": [d.mark_strings for d in parsed] + [()],
        "negated": [d.negated for d in parsed] + [()],
        "build": [d.build for d in parsed] + [None],
        "hair": [d.hair for d in parsed] + [None],
        "conditions": [d.conditions for d in parsed] + [empty.conditions],
    }
    # factorize gives -1 for missing values: index -1 picks the appended empty entry.
    frame = {}
    for name, values in columns.items():
        table = pd.Series(values, dtype=object).to_numpy()
        frame[name] = table[codes]
    return pd.DataFrame(frame, index=series.index, columns=DESCRIPTION_COLUMNS)
