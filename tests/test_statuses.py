import pytest

from cancelbot.errors import ConfigError
from cancelbot.models import OrderStatus as S
from cancelbot.statuses import StatusTable


@pytest.mark.parametrize(
    ("label", "status"),
    [
        ("En attente de préparation", S.AWAITING_PREPARATION),
        ("EN ATTENTE DE PREPARATION", S.AWAITING_PREPARATION),
        ("en  attente de preparation ", S.AWAITING_PREPARATION),
        ("En cours de préparation", S.IN_PREPARATION),
        ("Préparée", S.PREPARED),
        ("preparee", S.PREPARED),
        ("Expédiée", S.SHIPPED),
        ("EXPEDIEE", S.SHIPPED),
        ("Annulée", S.CANCELLED),
        ("awaiting_preparation", S.AWAITING_PREPARATION),
        ("in_preparation", S.IN_PREPARATION),
        ("prepared", S.PREPARED),
        ("shipped", S.SHIPPED),
        ("cancelled", S.CANCELLED),
        ("Bloquée", None),
        ("", None),
    ],
)
def test_default_table(label, status):
    assert StatusTable.from_config("").lookup(label) is status


def test_configured_labels_add_to_and_override_the_defaults():
    table = StatusTable.from_config("Bloquée=in_preparation; Expédiée=prepared;")
    assert table.lookup("bloquee") is S.IN_PREPARATION
    assert table.lookup("EXPÉDIÉE") is S.PREPARED
    assert table.lookup("En attente de préparation") is S.AWAITING_PREPARATION


@pytest.mark.parametrize("spec", ["Bloquée", "Bloquée=frozen", "=shipped"])
def test_bad_configuration_names_the_variable(spec):
    with pytest.raises(ConfigError, match="GSTK_STATUS_MAP"):
        StatusTable.from_config(spec)
