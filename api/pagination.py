from rest_framework.pagination import CursorPagination


class StableCursorPagination(CursorPagination):
    """Cursor pages stay correct while records are added, which offset pages do not during a sync."""

    ordering = ("-created_at", "-id")
    page_size_query_param = "page_size"
    max_page_size = 200


class SyncCursorPagination(StableCursorPagination):
    """Oldest change first, for `updated_since` syncs: on a model's (clinic, updated_at, id) index. A row
    changed while a client pages moves to the end, so the walk still reaches it."""

    ordering = ("updated_at", "id")
