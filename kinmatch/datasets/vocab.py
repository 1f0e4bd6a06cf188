"""Vocabularies the simulator writes its Chinese text from.

Everything here is hand-written from the domain notes (docs of rescue stations, family-search
notices): how staff and families word marks, health, clothing and accents; the house surnames
stations give; nicknames; Uyghur name variants. Name frequencies and places come from shipped
reference tables (``surname_freq``, ``given_name_freq``, ``common_chars``, ``counties``,
``townships``, ``place_history``), not from here.
"""

from __future__ import annotations

# 2020 census population (millions), by the first two digits of the province code. Used to
# weight home provinces; counties within a province are equally likely (no county census
# table with a permissive licence is shipped).
PROVINCE_POPULATION = {
    "11": 21.9, "12": 13.9, "13": 74.6, "14": 34.9, "15": 24.0, "21": 42.6, "22": 24.1,
    "23": 31.9, "31": 24.9, "32": 84.7, "33": 64.6, "34": 61.0, "35": 41.5, "36": 45.2,
    "37": 101.5, "41": 99.4, "42": 57.8, "43": 66.4, "44": 126.0, "45": 50.1, "46": 10.1,
    "50": 32.1, "51": 83.7, "52": 38.6, "53": 47.2, "54": 3.6, "61": 39.5, "62": 25.0,
    "63": 5.9, "64": 7.2, "65": 25.9,
}

# What staff write in 口音 for a person from a province, and what a family writes in 方言.
PROVINCE_ACCENT = {
    "11": ("北京口音", "北京话"), "12": ("天津口音", "天津话"), "13": ("河北口音", "河北话"),
    "14": ("山西口音", "山西话"), "15": ("内蒙古口音", "内蒙古话"), "21": ("东北口音", "东北话"),
    "22": ("东北口音", "东北话"), "23": ("东北口音", "东北话"), "31": ("上海口音", "上海话"),
    "32": ("江苏口音", "江苏话"), "33": ("浙江口音", "浙江话"), "34": ("安徽口音", "安徽话"),
    "35": ("福建口音", "闽南话"), "36": ("江西口音", "江西话"), "37": ("山东口音", "山东话"),
    "41": ("河南口音", "河南话"), "42": ("湖北口音", "湖北话"), "43": ("湖南口音", "湖南话"),
    "44": ("广东口音", "粤语"), "45": ("广西口音", "广西话"), "46": ("海南口音", "海南话"),
    "50": ("重庆口音", "重庆话"), "51": ("四川口音", "四川话"), "52": ("贵州口音", "贵州话"),
    "53": ("云南口音", "云南话"), "54": ("西藏口音", "藏语"), "61": ("陕西口音", "陕西话"),
    "62": ("甘肃口音", "甘肃话"), "63": ("青海口音", "青海话"), "64": ("宁夏口音", "宁夏话"),
    "65": ("新疆口音", "新疆话"),
}
ACCENT_FORMS = ("{a}", "说{d}", "{a}", "疑似{a}", "讲{d}")
VAGUE_ACCENTS = ("外地口音", "南方口音", "北方口音", "口音较重，听不懂", "普通话不标准", "方言难辨")

# Dialect merger families by dialect area (DOMAIN.md): which sound contrasts a speaker of the
# area tends to merge, so a clerk writes the merged sound (n_l: 南/兰; retroflex: zh/ch/sh with
# z/c/s; n_ng: -n/-ng; f_h: 湖州/福州; hu_wu: 胡/吴, 黄/王; r_y_l: 人 yin). Kept here,
# independent of the normalizers, so the simulator tests them honestly; the family names are
# those of the shipped ``dialect_areas`` table.
DIALECT_MERGERS = {
    "N_Man": (),
    "N_Man_NE": ("r_y_l",),
    "N_Man_Jin": ("n_ng",),
    "JH_Man": ("n_l", "retroflex", "n_ng"),
    "SW_Man": ("n_l", "retroflex", "n_ng", "r_y_l"),
    "Wu": ("retroflex", "n_ng", "hu_wu"),
    "Xiang": ("n_l", "retroflex", "n_ng", "f_h"),
    "Gan": ("n_l", "retroflex", "n_ng"),
    "Hakka": ("retroflex", "n_ng", "f_h"),
    "Min": ("retroflex", "n_ng", "f_h"),
    "Yue": ("retroflex", "n_ng", "f_h", "hu_wu"),
    "P_T": ("retroflex", "n_ng"),
}

# Categories of people in station care, with their share among simulated people, share of men,
# age range (years when lost) and typical conditions (DOMAIN.md: dementia elderly, intellectual
# and mental disability, deaf-mute, runaway or lost children).
CATEGORIES = (
    # name,          share, p_male, age_low, age_high, conditions
    ("dementia_elderly", 0.40, 0.55, 60, 92, ("痴呆",)),
    ("intellectual", 0.20, 0.65, 16, 60, ("智力障碍",)),
    ("mental", 0.20, 0.60, 18, 65, ("精神障碍",)),
    ("deaf_mute", 0.06, 0.60, 14, 60, ("聋哑",)),
    ("minor", 0.09, 0.60, 5, 17, ()),
    ("other_adult", 0.05, 0.70, 20, 70, ()),
)

CONDITION_WORDS = {
    # condition: (family wording, station wording)
    "痴呆": (("患有老年痴呆", "记忆力差，老年痴呆", "阿尔茨海默病", "有老年痴呆症状", "脑子糊涂"),
           ("疑似老年痴呆", "记忆力差，答非所问", "认知障碍", "老年痴呆")),
    "智力障碍": (("智力有问题", "智力低下", "智力残疾", "脑子不太灵光"),
             ("智力低下", "疑似智力障碍", "反应迟钝", "智力障碍")),
    "精神障碍": (("精神不正常", "患有精神分裂症", "精神病", "精神有问题"),
             ("疑似精神障碍", "精神异常", "言语混乱", "精神状态差")),
    "聋哑": (("聋哑人", "不会说话，听不见", "先天聋哑"), ("聋哑", "不能言语，听力障碍", "疑似聋哑")),
    "肢体残疾": (("腿脚不便", "肢体残疾"), ("行走不便", "肢体残疾")),
    "癫痫": (("有癫痫病", "羊癫疯"), ("有癫痫病史", "疑似癫痫")),
}
MINOR_WORDS = (("离家出走", "贪玩走失", "性格内向"), ("未成年，表达不清", "情绪低落", "不愿多说"))

# Marks: (type, part, sided, extras). Rendered with several wordings so a report and a station
# record describe the same mark differently.
MARK_KINDS = (
    ("痣", "脸", True, ("",)),
    ("痣", "额头", False, ("",)),
    ("痣", "下巴", False, ("",)),
    ("痣", "脖子", True, ("",)),
    ("痣", "嘴角", True, ("",)),
    ("疤痕", "额头", False, ("",)),
    ("疤痕", "脸", True, ("",)),
    ("疤痕", "头部", False, ("",)),
    ("疤痕", "手背", True, ("",)),
    ("疤痕", "手臂", True, ("",)),
    ("疤痕", "腿", True, ("",)),
    ("疤痕", "腹部", False, ("",)),
    ("胎记", "脸", True, ("",)),
    ("胎记", "背部", False, ("",)),
    ("胎记", "腿", True, ("",)),
    ("缺指", "手", True, ("小指", "食指", "无名指")),
    ("纹身", "手臂", True, ("龙", "鹰", "字", "花")),
    ("牙齿", "门牙", False, ("缺失", "镶金牙")),
    ("六指", "手", True, ("",)),
    ("跛脚", "腿", True, ("",)),
)
PART_WORDS = {
    "脸": ("脸", "脸颊", "面部"), "额头": ("额头", "前额", "额部"), "下巴": ("下巴", "下颌", "下巴处"),
    "脖子": ("脖子", "颈部", "颈"), "嘴角": ("嘴角", "嘴边", "唇边"), "头部": ("头部", "头上", "头顶"),
    "手背": ("手背", "手背上", "手背处"), "手臂": ("手臂", "胳膊", "上臂"), "腿": ("腿", "小腿", "腿部"),
    "腹部": ("腹部", "肚子上", "腹部正中"), "背部": ("背部", "后背", "背上"), "手": ("手", "手", "手"),
    "门牙": ("门牙", "前牙", "上门牙"),
}
SIDE_WORDS = {"左": ("左", "左侧", "左边"), "右": ("右", "右侧", "右边")}
MARK_TEMPLATES = {
    "痣": ("{s}{p}有一颗黑痣", "{s}{p}有痣", "{p}{s}有颗痣", "{s}{p}黑痣一颗"),
    "疤痕": ("{s}{p}有疤痕", "{s}{p}有一道疤", "{p}{s}有伤疤", "{s}{p}可见陈旧性疤痕"),
    "胎记": ("{s}{p}有胎记", "{s}{p}有一块胎记", "{p}{s}有青色胎记", "{s}{p}胎记明显"),
    "缺指": ("{s}手缺{x}", "{s}手{x}残缺", "{s}手少一截{x}", "{s}手{x}缺失"),
    "纹身": ("{s}{p}纹有{x}", "{s}{p}有{x}纹身", "{p}{s}刺{x}", "{s}{p}文身（{x}）"),
    "牙齿": ("{x_t}", "{x_t}", "{x_t}", "{x_t}"),
    "六指": ("{s}手六指", "{s}手有六个指头", "{s}手多一指", "{s}手六指畸形"),
    "跛脚": ("{s}腿跛", "走路跛，{s}腿不便", "{s}脚瘸", "{s}下肢跛行"),
}
TOOTH_WORDS = {"缺失": ("门牙缺失", "缺门牙", "上门牙掉了", "前牙缺损"),
               "镶金牙": ("镶有金牙", "有一颗金牙", "门牙镶金", "镶金牙一颗")}
TATTOO_WORDS = {"龙": "龙", "鹰": "鹰", "字": "“忍”字", "花": "花朵"}

BUILD_WORDS = {"瘦": ("体型偏瘦", "身材消瘦", "偏瘦"), "中等": ("中等身材", "体型中等", "身材适中"),
               "胖": ("体型偏胖", "较胖", "身材微胖")}
# Hair rows are the simulator's hair codes (kinmatch.datasets.drift.HAIR_NAMES): 短发, 花白, 光头,
# 长发, 稀疏, 白发; the words of a row are synonyms (a shaved head is not a bald one: 秃顶 is with
# thinning hair). Nobody is drawn with 白发 at loss; hair whitens only by drift.
HAIR_WORDS = (("短发", "平头"), ("花白头发", "头发花白"), ("光头", "剃光头"), ("长发", "头发较长"),
              ("头发稀少", "头发稀疏", "秃顶"), ("满头白发", "白发苍苍"))

COLOURS = ("黑色", "蓝色", "灰色", "深蓝色", "红色", "绿色", "白色", "咖啡色", "军绿色", "紫色")
TOPS = ("外套", "棉袄", "夹克", "毛衣", "T恤", "羽绒服", "衬衫", "中山装", "运动服")
BOTTOMS = ("裤子", "长裤", "运动裤", "棉裤", "牛仔裤")
SHOES = ("布鞋", "运动鞋", "拖鞋", "皮鞋", "解放鞋", "棉鞋")

# Report sources: police, family, platforms (DOMAIN.md).
REPORT_SOURCES = ("公安机关", "家属报案", "全国救助寻亲网", "头条寻人", "宝贝回家", "抖音寻人",
                  "微博寻人", "志愿者平台", "派出所", "家属")

# Stations: (name, province prefix, city words for found_place, house surnames for assigned
# names). 党 (Yan'an, Tianjin), 同 (Tongchuan), 吴民X (Kaili), 魏同X (Datong) are documented
# practice; the others follow the same pattern.
STATIONS = (
    ("延安市救助管理站", "61", "延安市宝塔区", ("党",)),
    ("天津市救助管理站", "12", "天津市河北区", ("党",)),
    ("铜川市救助管理站", "61", "铜川市王益区", ("同",)),
    ("凯里市救助管理站", "52", "凯里市", ("吴民",)),
    ("大同市救助管理站", "14", "大同市平城区", ("魏同",)),
    ("宁波市救助管理站", "33", "宁波市海曙区", ("宁",)),
    ("祝州救助管理站", "36", "上饶市信州区", ("祝",)),
    ("广州市救助管理站", "44", "广州市白云区", ("穗",)),
    ("成都市救助管理站", "51", "成都市金牛区", ("蓉",)),
    ("郑州市救助管理站", "41", "郑州市二七区", ("郑",)),
    ("北京市救助管理站", "11", "北京市海淀区", ("京",)),
    ("上海市救助管理站", "31", "上海市静安区", ("申",)),
    ("武汉市救助管理站", "42", "武汉市江岸区", ("汉",)),
    ("西安市救助管理站", "61", "西安市未央区", ("安",)),
    ("深圳市救助管理站", "44", "深圳市罗湖区", ("深",)),
    ("乌鲁木齐市救助管理站", "65", "乌鲁木齐市天山区", ("新",)),
)
ASSIGNED_GIVEN = ("新生", "安", "乐", "平", "和", "福", "民", "建", "康", "春", "秋", "冬", "明", "善",
                  "新", "军", "华", "国", "生", "喜")
PLACEHOLDER_NAMES = ("无名氏", "流浪男", "流浪女", "无名男", "无名女")
FOUND_SPOTS = ("火车站", "汽车站", "桥洞下", "街头", "高速公路服务区", "公园", "菜市场附近", "商场门口",
               "医院门口", "派出所门口")
ESCORTS = ("公安送站", "群众求助", "城管送站", "医院转介", "主动求助")

# Nicknames (小名) families write in the alias column, by sex.
NICKNAMES_M = ("二娃", "狗蛋", "铁蛋", "三娃", "毛毛", "小宝", "根生", "石头", "柱子", "虎子", "大牛",
               "栓子", "黑蛋", "憨娃", "老幺")
NICKNAMES_F = ("大妞", "二妞", "丫头", "招娣", "小红", "妹妹", "三妹", "毛毛", "翠翠", "小芳", "幺妹",
               "囡囡")

# Uyghur names in Chinese transliteration, each group holding the variants in use
# (DOMAIN.md: 阿卜杜拉/阿布都拉, 买买提/麦麦提).
UYGHUR_MALE = (("阿卜杜拉", "阿布都拉", "阿不都拉"), ("买买提", "麦麦提", "买买体"), ("艾力", "艾利", "阿里"),
               ("吐尔逊", "吐尔孙", "图尔逊"), ("热合曼", "热合满", "热和曼"), ("努尔", "奴尔", "努尔江"),
               ("艾买提", "艾麦提", "阿合买提"), ("依明", "伊明", "衣明"), ("卡德尔", "喀迪尔", "卡迪尔"),
               ("吾斯曼", "乌斯曼", "吾斯满"))
UYGHUR_FEMALE = (("阿依古丽", "阿依姑丽", "阿伊古丽"), ("古丽米拉", "姑丽米拉", "古丽米娜"),
                 ("帕提古丽", "帕提姑丽", "帕特古丽"), ("热依拉", "热伊拉", "热依娜"),
                 ("米热古丽", "米日古丽", "米热姑丽"), ("阿娜尔", "阿娜尔古丽", "安娜尔"))
MINORITY_SEPARATORS = ("·", ".", "・", "", "•")
MINORITY_SHARE_XINJIANG = 0.5

# Pre-reform units and phrases people use about home (DOMAIN.md).
STATEMENT_HOME = ("说家在{p}", "自述老家是{p}", "反复说“{p}”", "提到{p}", "说是{p}人")
STATEMENT_FRAGMENT = ("说家那边有个“{c}”字", "只记得地名里有“{c}”", "说老家叫“{c}什么”")
STATEMENT_SOUND = ("说家在“{s}”（音）", "多次念叨“{s}”（音）", "地名听着像“{s}”")
STATEMENT_RELATIVE = ("说儿子叫{n}", "说女儿叫{n}", "说父亲叫{n}", "说哥哥叫{n}", "提到“{n}”")
STATEMENT_OLD_UNIT = ("说是{o}人", "提到{o}公社", "说家在{o}")
STATEMENT_NONE = ("无法正常交流", "问话不答", "自述不清", "")

# How staff re-describe the same clothes a family listed: near colours, other garment words.
COLOUR_WORDS = {"黑色": ("深色", "黑"), "蓝色": ("深蓝色", "浅蓝色"), "灰色": ("深灰色", "灰"),
                "深蓝色": ("蓝色", "深色"), "红色": ("暗红色", "红"), "绿色": ("军绿色", "墨绿色"),
                "白色": ("浅色", "米白色"), "咖啡色": ("棕色", "褐色"), "军绿色": ("绿色", "墨绿色"),
                "紫色": ("紫红色", "深紫色")}
GARMENT_WORDS = {"外套": ("上衣", "褂子"), "棉袄": ("棉衣", "棉服"), "夹克": ("外套", "夹克衫"),
                 "毛衣": ("毛线衣", "针织衫"), "T恤": ("短袖", "半袖"), "羽绒服": ("棉服", "羽绒衣"),
                 "衬衫": ("衬衣", "上衣"), "中山装": ("中山服", "旧式外套"), "运动服": ("运动衣", "运动外套"),
                 "裤子": ("长裤", "裤"), "长裤": ("裤子", "裤"), "运动裤": ("休闲裤", "宽松裤"),
                 "棉裤": ("厚裤子", "棉裤子"), "牛仔裤": ("仔裤", "牛仔长裤"), "布鞋": ("黑布鞋", "老布鞋"),
                 "运动鞋": ("球鞋", "旅游鞋"), "拖鞋": ("凉拖", "拖板"), "皮鞋": ("黑皮鞋", "旧皮鞋"),
                 "解放鞋": ("胶鞋", "军用胶鞋"), "棉鞋": ("棉靴", "厚棉鞋")}
WORN_WORDS = ("衣着破旧", "衣服脏破", "衣着单薄", "衣着不整")
