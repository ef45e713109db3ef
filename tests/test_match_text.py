"""pipeline.api.match_text: a plain text (a retelling, a pasted letter) against a registry."""

from __future__ import annotations

from dataclasses import replace

from pipeline import api
from pipeline.api import match_text
from tests.test_match import REGISTRY


def test_a_retelling_naming_the_council_in_the_genitive_finds_that_citys_promise() -> None:
    rivne = match_text(REGISTRY, "Лист секретаря Рівненської міської ради О. Коваля: капітальний ремонт мосту "
                                 "на вулиці Набережній завершено у 2018 році.")
    cherkasy = match_text(REGISTRY, "Лист секретаря Черкаської міської ради О. Коваля: капітальний ремонт мосту "
                                    "на вулиці Набережній завершено у 2018 році.")
    assert rivne[0].promise_id == "RIV-1"
    assert cherkasy[0].promise_id == "CHK-1"
    assert "CHK-1" not in {m.promise_id for m in rivne}


def test_best_first_and_each_promise_with_its_passage() -> None:
    text = ("Як повідомила Рівненська міська рада, капітальний ремонт аварійного мосту через річку на вулиці "
            "Набережній завершено. У парку Молодіжному встановлено нові ліхтарі та світлодіодні світильники.")
    matches = match_text(REGISTRY, text)
    assert [m.promise_id for m in matches][:2] in (["RIV-1", "RIV-2"], ["RIV-2", "RIV-1"])
    assert [m.score for m in matches] == sorted((m.score for m in matches), reverse=True)
    by_id = {m.promise_id: m for m in matches}
    assert "ліхтарі" not in by_id["RIV-1"].passage.text and "мосту" not in by_id["RIV-2"].passage.text


def test_russian_text_and_nothing_to_match() -> None:
    assert match_text(REGISTRY, "Письмо Черкасского городского совета: закуплено 10 новых автобусов.")[0].promise_id == "CHK-2"
    assert match_text(REGISTRY, "") == []
    assert match_text(REGISTRY, "Повідомляємо, що Ваш запит отримано.") == []


def test_the_index_is_built_once_per_registry_and_rebuilt_when_it_changes() -> None:
    api._INDEXES.clear()
    text = "Рівненська міська рада: у парку Молодіжному встановлено нові ліхтарі."
    first = match_text(REGISTRY, text)
    index = api._INDEXES[tuple(REGISTRY)]
    assert match_text(list(REGISTRY), text) == first
    assert api._INDEXES[tuple(REGISTRY)] is index and len(api._INDEXES) == 1
    changed = [replace(p, city="Черкаси") if p.promise_id == "RIV-2" else p for p in REGISTRY]
    assert "RIV-2" not in {m.promise_id for m in match_text(changed, text)}
    assert len(api._INDEXES) == 2


def test_a_council_adjective_unlike_the_citys_name_finds_the_city_in_running_text() -> None:
    from pipeline.schema import Promise

    def stops(pid: str, city: str) -> Promise:
        return Promise(pid, "Іван Коваль", "міський голова", city, None, "Замінити 40 зупинкових павільйонів",
                       "Міський голова пообіцяв нові зупинкові павільйони.", "uk")

    registry = [stops("BC-1", "Біла Церква"), stops("KR-1", "Кривий Ріг"), stops("KH-1", "Херсон")]
    uk = match_text(registry, "Згідно з листом Білоцерківської міської ради, встановлено 32 нові зупинкові павільйони.")
    assert uk[0].promise_id == "BC-1" and uk[0].features["letter_city"] == "Біла Церква"
    ru_registry = [Promise(p.promise_id, p.politician, p.office, p.city, None, "Заменить 40 остановочных павильонов",
                           "Городской голова пообещал новые остановочные павильоны.", "ru") for p in registry]
    ru = match_text(ru_registry, "Как сообщил Криворожский городской совет, установлено 32 новых остановочных павильона.")
    assert ru[0].promise_id == "KR-1" and ru[0].features["letter_city"] == "Кривий Ріг"


def test_a_match_the_ranker_is_unsure_of_is_kept_and_sent_to_review() -> None:
    """Matches from match_threshold up are kept; under match_review_below they are flagged."""
    from pipeline.processor import Processor
    from pipeline.schema import Letter, Status
    from pipeline.settings import Settings
    from tests.test_match import letter

    text = letter("У парку Молодіжному встановлено нові ліхтарі та світлодіодні світильники.")
    bare = Letter("T", "0" * 64, "t.pdf", ())
    calm = Processor(REGISTRY, Settings(match_review_below=0.0)).process(bare, text=text)
    assert [u.promise_id for u in calm.updates] == ["RIV-2"] and not calm.updates[0].needs_review
    score = calm.updates[0].match.score
    wary = Processor(REGISTRY, Settings(match_review_below=min(1.0, score + 0.01))).process(bare, text=text)
    assert wary.status == Status.NEEDS_REVIEW and wary.updates[0].needs_review
    assert f"unsure match RIV-2 ({score:.2f})" in (wary.error or "")
    kept_only_above = Processor(REGISTRY, Settings(match_threshold=min(1.0, score + 0.01))).process(bare, text=text)
    assert not kept_only_above.updates
