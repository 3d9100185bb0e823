"""The staff calendar feed, outside any clinic URL: /feeds/<token>.ics (scheduling/feeds.py)."""

from django.urls import path

from scheduling.feeds import feed_view

urlpatterns = [
    path("<str:token>.ics", feed_view, name="calendar-feed"),
]
