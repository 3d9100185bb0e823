from django.apps import AppConfig


class SafetyConfig(AppConfig):
    name = "safety"
    verbose_name = "Safety alerts"

    def ready(self) -> None:
        # Rules run when a vital, score or check-in is saved (after commit). vitals never imports safety.
        from prescribers.signals import (
            medication_concerns_requested,
            medications_changed,
            order_warnings_requested,
            prescribing_settings_changed,
        )
        from safety.hooks import (
            co_prescription_concerns,
            co_prescription_order_warnings,
            on_attendance_recorded,
            on_clinical_fact_recorded,
            on_medications_changed,
            on_prescribing_settings_changed,
            rising_withdrawal_concerns,
        )
        from scheduling.signals import attendance_recorded
        from taper.signals import review_concerns_requested
        from vitals.signals import clinical_fact_recorded

        clinical_fact_recorded.connect(on_clinical_fact_recorded, dispatch_uid="safety.evaluate_on_save")
        # Co-prescription rules run when medications or PDMP fills change; prescribers never imports safety.
        medications_changed.connect(on_medications_changed, dispatch_uid="safety.corx_on_save")
        prescribing_settings_changed.connect(
            on_prescribing_settings_changed, dispatch_uid="safety.corx_on_thresholds"
        )
        # Missed booked sessions are checked after attendance is recorded; scheduling never imports safety.
        attendance_recorded.connect(on_attendance_recorded, dispatch_uid="safety.attendance_on_save")
        # The taper review queue lists patients whose withdrawal scores rise; taper never imports safety.
        review_concerns_requested.connect(rising_withdrawal_concerns, dispatch_uid="safety.review_concerns")
        # A medication list shows its open co-prescription alerts; prescribers never imports safety.
        medication_concerns_requested.connect(
            co_prescription_concerns, dispatch_uid="safety.medication_concerns"
        )
        # The medication form warns before it saves an order the co-prescription rules would flag.
        order_warnings_requested.connect(co_prescription_order_warnings, dispatch_uid="safety.order_warnings")
