"""One use case per operation; each runs in its own unit of work."""

from application.use_cases.adjust_stock import AdjustStock
from application.use_cases.create_item import CreateItem
from application.use_cases.create_items import CreateItems
from application.use_cases.delete_item import DeleteItem
from application.use_cases.export_items import ExportItems
from application.use_cases.get_item import GetItem
from application.use_cases.import_items import ImportItems
from application.use_cases.list_items import ListItems
from application.use_cases.read_events import ReadEvents, follow
from application.use_cases.update_item import UpdateItem

__all__ = [
    "AdjustStock",
    "CreateItem",
    "CreateItems",
    "DeleteItem",
    "ExportItems",
    "GetItem",
    "ImportItems",
    "ListItems",
    "ReadEvents",
    "UpdateItem",
    "follow",
]
