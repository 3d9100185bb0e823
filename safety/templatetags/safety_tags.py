from django import template

register = template.Library()


@register.simple_tag(takes_context=True)
def open_alert_count(context) -> int:
    """Open (unacknowledged) alerts of the current clinic, for the navigation badge: one COUNT query, and
    only for people who may see alerts."""
    from clinic.tenancy.context import current_clinic
    from safety.selectors import open_alert_count as count

    clinic = context.get("clinic")
    if clinic is None or not context.get("can", {}).get("alert_view"):
        return 0
    in_scope = current_clinic()
    if in_scope is None or in_scope.pk != clinic.pk:
        return 0  # rendered outside the request's clinic scope: no badge rather than an error page

    return count()
