from django import template
from django.urls import reverse

register = template.Library()


@register.simple_tag(takes_context=True)
def curl(context, viewname: str, **kwargs) -> str:
    """`{% curl 'patients:detail' patient_id=p.id %}`: a URL inside the current clinic."""
    clinic = context["clinic"]
    return reverse(viewname, kwargs={"clinic_slug": clinic.slug, **kwargs})
