import datetime as dt

from django.core.exceptions import FieldDoesNotExist
from django.core.exceptions import ValidationError as DjangoValidationError
from django.utils import timezone
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.pagination import CursorPagination

from clinic import date_bounds

PAGE_SIZE_ERROR = "A whole number from 1; more than {max} gives {max}."
CURSOR_ERROR = "Not a cursor this API gave out; use the `next` or `previous` link as it is."


class StableCursorPagination(CursorPagination):
    """Cursor pages stay correct while records are added, which offset pages do not during a sync.

    Strict: `page_size` that is not a whole number from 1 (`page_size=`, `page_size=null`, `0`) and a cursor
    that does not decode to a position of the ordering field are 400 problems naming the parameter (DRF
    silently used the default size, and a forged cursor position reached the database)."""

    ordering = ("-created_at", "-id")
    page_size_query_param = "page_size"
    max_page_size = 200

    def get_page_size(self, request):
        given = request.query_params.get(self.page_size_query_param)
        if given is None:
            return self.page_size
        if not given.isascii() or not given.isdigit() or int(given) < 1:
            message = PAGE_SIZE_ERROR.format(max=self.max_page_size)
            raise ValidationError({self.page_size_query_param: [message]})
        return min(int(given), self.max_page_size)

    def decode_cursor(self, request):
        given = request.query_params.get(self.cursor_query_param)
        if given is not None and not given.strip():
            raise ValidationError({self.cursor_query_param: [CURSOR_ERROR]})
        try:
            return super().decode_cursor(request)
        except NotFound:
            raise ValidationError({self.cursor_query_param: [CURSOR_ERROR]}) from None

    def paginate_queryset(self, queryset, request, view=None):
        self._check_position(queryset, request, view)
        return super().paginate_queryset(queryset, request, view)

    def _check_position(self, queryset, request, view) -> None:
        """The cursor's position is compared with the first ordering field in SQL: it must be a value of that
        field (a date-time within range and offset), else 400 rather than a database error."""
        cursor = self.decode_cursor(request)
        if cursor is None or cursor.position is None:
            return
        name = self.get_ordering(request, queryset, view)[0].lstrip("-")
        try:
            field = queryset.model._meta.get_field(name)
        except FieldDoesNotExist:  # an annotation or a related path: the database judges it
            return
        try:
            value = field.to_python(cursor.position)
        except DjangoValidationError:
            raise ValidationError({self.cursor_query_param: [CURSOR_ERROR]}) from None
        if isinstance(value, str) and "\x00" in value:
            raise ValidationError({self.cursor_query_param: [CURSOR_ERROR]})
        if isinstance(value, dt.date) and date_bounds.HISTORY.refusal(value, timezone.localdate()):
            raise ValidationError({self.cursor_query_param: [CURSOR_ERROR]})


class SyncCursorPagination(StableCursorPagination):
    """Oldest change first, for `updated_since` syncs: on a model's (clinic, updated_at, id) index. A row
    changed while a client pages moves to the end, so the walk still reaches it."""

    ordering = ("updated_at", "id")
