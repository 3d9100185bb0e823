"""Browser routes of scheduling, under /c/<clinic>/schedule/. Each area keeps its own list."""

from scheduling import urls_attendance, urls_calendar, urls_compliance, urls_reminders, urls_setup

app_name = "scheduling"

urlpatterns = [
    *urls_setup.urlpatterns,
    *urls_calendar.urlpatterns,
    *urls_attendance.urlpatterns,
    *urls_compliance.urlpatterns,
    *urls_reminders.urlpatterns,
]
