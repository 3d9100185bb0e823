from django.apps import AppConfig


class PatientsConfig(AppConfig):
    name = "patients"
    verbose_name = "Patients"

    def ready(self) -> None:
        # The audit report finds and labels patients through this; the platform never imports patients.
        from clinic.audit.subjects import PatientDirectory, register_patient_directory
        from patients.selectors import patient_id_by_id_or_mrn, patient_mrns

        register_patient_directory(PatientDirectory(find=patient_id_by_id_or_mrn, labels=patient_mrns))
