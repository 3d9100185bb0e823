from django import forms

from patients.models import Patient
from patients.services import EDITABLE_FIELDS


class PatientForm(forms.ModelForm):
    class Meta:
        model = Patient
        fields = EDITABLE_FIELDS
        widgets = {
            "date_of_birth": forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
            "phone": forms.TextInput(attrs={"type": "tel", "autocomplete": "off"}),
            "email": forms.EmailInput(attrs={"autocomplete": "off"}),
        }
        help_texts = {"mrn": "Leave blank to assign the next clinic number."}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["mrn"].required = False
        self.fields["first_name"].widget.attrs["autofocus"] = True

    def validate_unique(self) -> None:
        # The service validates the full record (clinic + MRN uniqueness) once the MRN is known.
        return None
