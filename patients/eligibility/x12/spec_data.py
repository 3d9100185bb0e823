# ruff: noqa: E501  (a data table: one code or element per line reads better than wrapped)
"""The subset of X12 005010X279A1 (270 inquiry / 271 response) that Stepdown sends and reads, as data.

No Python library validates 5010 eligibility here (``shared/reference/x12.md``), so the structure and code
lists live in this module and :mod:`.validate` walks transactions against them.

Sources and how sure each value is (same letters as ``shared/reference/clinical.md``):

- ``TR3``: the loop/segment structure of 005010X279A1 as published in Stedi's public 270 and 271 X279A1 guides
  (stedi.com/edi/hipaa/transaction-set/270-B1 and 271-B1) and the structure table in clinical.md §8a: **V**.
- ``CODES``: X12 code-list meanings on which several independent public parsers agree (checked 2026-11:
  OpenDental's X271, a Java ``RejectReasonCode``/``TimePeriodQlfr`` enum set, a Python 271 parser, a Go and a PHP
  271 reader, Stedi's element 901 page): **S**.
- ``CLIN8``: clinical.md §8a/§8b (EB01 codes and the IOP/PHP service type codes): **S** there.
- ``MEM``: recalled from the TR3 but not confirmed from a public source in this session: **U**. Everything marked
  ``MEM`` is flagged ``verified=False`` in the data and, where it would otherwise reject a real file (per-loop AAA
  reason lists, exact element usage in rarely-used segments), it only produces a *warning*.

Usage letters: ``R`` required, ``S`` situational, ``N`` not used (must be empty).
Data types: ``AN`` string, ``ID`` code, ``DT`` date, ``TM`` time, ``N0`` integer, ``R`` decimal.
"""

from __future__ import annotations

from dataclasses import dataclass, field

# Hand-laid data tables: the formatter is off for this module.
# fmt: off

IMPLEMENTATION_GUIDE = "005010X279A1"  # GS08 / ST03 (TR3)
INTERCHANGE_VERSION = "00501"  # ISA12 (TR3)

# ----------------------------------------------------------------------------------------------------------
# Code lists. Each: code -> meaning. Source per list.
# ----------------------------------------------------------------------------------------------------------

# EB01 Eligibility or Benefit Information (element 1390). Source: CLIN8 §8a (full list, S) + CODES.
EB01 = {
    "1": "Active Coverage",
    "2": "Active - Full Risk Capitation",
    "3": "Active - Services Capitated",
    "4": "Active - Services Capitated to Primary Care Physician",
    "5": "Active - Pending Investigation",
    "6": "Inactive",
    "7": "Inactive - Pending Eligibility Update",
    "8": "Inactive - Pending Investigation",
    "A": "Co-Insurance",
    "B": "Co-Payment",
    "C": "Deductible",
    "CB": "Coverage Basis",
    "D": "Benefit Description",
    "E": "Exclusions",
    "F": "Limitations",
    "G": "Out of Pocket (Stop Loss)",
    "H": "Unlimited",
    "I": "Non-Covered",
    "J": "Cost Containment",
    "K": "Reserve",
    "L": "Primary Care Provider",
    "M": "Pre-existing Condition",
    "MC": "Managed Care Coordinator",
    "N": "Services Restricted to Following Provider",
    "O": "Not Deemed a Medical Necessity",
    "P": "Benefit Disclaimer",
    "Q": "Second Surgical Opinion Required",
    "R": "Other or Additional Payor",
    "S": "Prior Year(s) History",
    "T": "Card(s) Reported Lost/Stolen",
    "U": "Contact Following Entity for Eligibility or Benefit Information",
    "V": "Cannot Process",
    "W": "Other Source of Data",
    "X": "Health Care Facility",
    "Y": "Spend Down",
}
EB01_ACTIVE = frozenset({"1", "2", "3", "4", "5"})  # CLIN8 §8a: 1-5 are the "Active" family
EB01_INACTIVE = frozenset({"6", "7", "8"})  # CLIN8 §8a: 6-8 are the "Inactive" family

# Service Type Codes (element 1365), used in EQ01 and EB03. The IOP/PHP-relevant subset and its meanings are
# CLIN8 §8b (and clinical_data.json x12.service_type_codes); the rest of the 5010 list is CODES (so that a
# payer's answer about, say, vision does not fail validation). 60 = General Benefits (CLIN8 §8b warns against a
# repository that maps 60-69 to behavioural health).
SERVICE_TYPES = {
    "1": "Medical Care", "2": "Surgical", "3": "Consultation", "4": "Diagnostic X-Ray", "5": "Diagnostic Lab",
    "6": "Radiation Therapy", "7": "Anesthesia", "8": "Surgical Assistance", "9": "Other Medical",
    "10": "Blood Charges", "11": "Used Durable Medical Equipment", "12": "Durable Medical Equipment Purchase",
    "13": "Ambulatory Service Center Facility", "14": "Renal Supplies in the Home",
    "15": "Alternate Method Dialysis", "16": "Chronic Renal Disease (CRD) Equipment",
    "17": "Pre-Admission Testing", "18": "Durable Medical Equipment Rental", "19": "Pneumonia Vaccine",
    "20": "Second Surgical Opinion", "21": "Third Surgical Opinion", "22": "Social Work",
    "23": "Diagnostic Dental", "24": "Periodontics", "25": "Restorative", "26": "Endodontics",
    "27": "Maxillofacial Prosthetics", "28": "Adjunctive Dental Services",
    "30": "Health Benefit Plan Coverage", "32": "Plan Waiting Period", "33": "Chiropractic",
    "34": "Chiropractic Office Visits", "35": "Dental Care", "36": "Dental Crowns", "37": "Dental Accident",
    "38": "Orthodontics", "39": "Prosthodontics", "40": "Oral Surgery", "41": "Routine (Preventive) Dental",
    "42": "Home Health Care", "43": "Home Health Prescriptions", "44": "Home Health Visits", "45": "Hospice",
    "46": "Respite Care", "47": "Hospital", "48": "Hospital - Inpatient", "49": "Hospital - Room and Board",
    "50": "Hospital - Outpatient", "51": "Hospital - Emergency Accident", "52": "Hospital - Emergency Medical",
    "53": "Hospital - Ambulatory Surgical", "54": "Long Term Care", "55": "Major Medical",
    "56": "Medically Related Transportation", "57": "Air Transportation", "58": "Cabulance",
    "59": "Licensed Ambulance", "60": "General Benefits", "61": "In-vitro Fertilization",
    "62": "MRI/CAT Scan", "63": "Donor Procedures", "64": "Acupuncture", "65": "Newborn Care",
    "66": "Pathology", "67": "Smoking Cessation", "68": "Well Baby Care", "69": "Maternity",
    "70": "Transplants", "71": "Audiology Exam", "72": "Inhalation Therapy", "73": "Diagnostic Medical",
    "74": "Private Duty Nursing", "75": "Prosthetic Device", "76": "Dialysis", "77": "Otological Exam",
    "78": "Chemotherapy", "79": "Allergy Testing", "80": "Immunizations", "81": "Routine Physical",
    "82": "Family Planning", "83": "Infertility", "84": "Abortion", "85": "AIDS", "86": "Emergency Services",
    "87": "Cancer", "88": "Pharmacy", "89": "Free Standing Prescription Drug",
    "90": "Mail Order Prescription Drug", "91": "Brand Name Prescription Drug",
    "92": "Generic Prescription Drug", "93": "Podiatry", "94": "Podiatry - Office Visits",
    "95": "Podiatry - Nursing Home Visits", "96": "Professional (Physician)", "97": "Anesthesiologist",
    "98": "Professional (Physician) Visit - Office", "99": "Professional (Physician) Visit - Inpatient",
    "A0": "Professional (Physician) Visit - Outpatient", "A1": "Professional (Physician) Visit - Nursing Home",
    "A2": "Professional (Physician) Visit - Skilled Nursing Facility",
    "A3": "Professional (Physician) Visit - Home",
    "A4": "Psychiatric", "A5": "Psychiatric - Room and Board", "A6": "Psychotherapy",
    "A7": "Psychiatric - Inpatient", "A8": "Psychiatric - Outpatient", "A9": "Rehabilitation",
    "AA": "Rehabilitation - Room and Board", "AB": "Rehabilitation - Inpatient",
    "AC": "Rehabilitation - Outpatient", "AD": "Occupational Therapy", "AE": "Physical Medicine",
    "AF": "Speech Therapy", "AG": "Skilled Nursing Care", "AH": "Skilled Nursing Care - Room and Board",
    "AI": "Substance Abuse", "AJ": "Alcoholism", "AK": "Drug Addiction", "AL": "Vision (Optometry)",
    "AM": "Frames", "AN": "Routine Exam", "AO": "Lenses", "AQ": "Nonmedically Necessary Physical",
    "AR": "Experimental Drug Therapy", "B1": "Burn Care", "B2": "Brand Name Prescription Drug - Formulary",
    "B3": "Brand Name Prescription Drug - Non-Formulary", "BA": "Independent Medical Evaluation",
    "BB": "Partial Hospitalization (Psychiatric)", "BC": "Day Care (Psychiatric)", "BD": "Cognitive Therapy",
    "BE": "Massage Therapy", "BF": "Pulmonary Rehabilitation", "BG": "Cardiac Rehabilitation",
    "BH": "Pediatric", "BI": "Nursery", "BJ": "Skin", "BK": "Orthopedic", "BL": "Cardiac", "BM": "Lymphatic",
    "BN": "Gastrointestinal", "BP": "Endocrine", "BQ": "Neurology", "BR": "Eye", "BS": "Invasive Procedures",
    "BT": "Gynecological", "BU": "Obstetrical", "BV": "Obstetrical/Gynecological",
    "BW": "Mail Order Prescription Drug: Brand Name", "BX": "Mail Order Prescription Drug: Generic",
    "BY": "Physician Visit - Office: Sick", "BZ": "Physician Visit - Office: Well", "C1": "Coronary Care",
    "CA": "Private Duty Nursing - Inpatient", "CB": "Private Duty Nursing - Home",
    "CC": "Surgical Benefits - Professional (Physician)", "CD": "Surgical Benefits - Facility",
    "CE": "Mental Health Provider - Inpatient", "CF": "Mental Health Provider - Outpatient",
    "CG": "Mental Health Facility - Inpatient", "CH": "Mental Health Facility - Outpatient",
    "CI": "Substance Abuse Facility - Inpatient", "CJ": "Substance Abuse Facility - Outpatient",
    "CK": "Screening X-ray", "CL": "Screening laboratory", "CM": "Mammogram, High Risk Patient",
    "CN": "Mammogram, Low Risk Patient", "CO": "Flu Vaccination", "CP": "Eyewear and Eyewear Accessories",
    "CQ": "Case Management", "DG": "Dermatology", "DM": "Durable Medical Equipment", "DS": "Diabetic Supplies",
    "GF": "Generic Prescription Drug - Formulary", "GN": "Generic Prescription Drug - Non-Formulary",
    "GY": "Allergy", "IC": "Intensive Care", "MH": "Mental Health", "NI": "Neonatal Intensive Care",
    "ON": "Oncology", "PT": "Physical Therapy", "PU": "Pulmonary", "RN": "Renal",
    "RT": "Residential Psychiatric Treatment", "TC": "Transitional Care", "TN": "Transitional Nursery Care",
    "UC": "Urgent Care",
}
# The codes clinical.md §8b lists as relevant to IOP/PHP (CLIN8, S).
BEHAVIOURAL_HEALTH_SERVICE_TYPES = frozenset(
    {"30", "1", "MH", "A4", "A5", "A6", "A7", "A8", "AI", "AJ", "AK", "BB", "BC", "CE", "CF", "CG", "CH", "CI",
     "CJ", "RT", "98", "88"}
)

# EB02 / EQ03 Coverage Level Code (element 1207). CODES.
COVERAGE_LEVEL = {
    "CHD": "Children Only", "DEP": "Dependents Only", "ECH": "Employee and Children", "EMP": "Employee Only",
    "ESP": "Employee and Spouse", "FAM": "Family", "IND": "Individual", "SPC": "Spouse and Children",
    "SPO": "Spouse Only",
}

# EB04 Insurance Type Code (element 1336). CODES.
INSURANCE_TYPE = {
    "12": "Medicare Secondary Working Aged Beneficiary or Spouse with Employer Group Health Plan",
    "13": "Medicare Secondary End-Stage Renal Disease Beneficiary in the Mandated Coordination Period",
    "14": "Medicare Secondary, No-fault Insurance including Auto is Primary",
    "15": "Medicare Secondary Worker's Compensation",
    "16": "Medicare Secondary Public Health Service (PHS) or Other Federal Agency",
    "41": "Medicare Secondary Black Lung", "42": "Medicare Secondary Veteran's Administration",
    "43": "Medicare Secondary Disabled Beneficiary Under Age 65 with Large Group Health Plan (LGHP)",
    "47": "Medicare Secondary, Other Liability Insurance is Primary", "AP": "Auto Insurance Policy",
    "C1": "Commercial", "CO": "Consolidated Omnibus Budget Reconciliation Act (COBRA)",
    "CP": "Medicare Conditionally Primary", "D": "Disability", "DB": "Disability Benefits",
    "EP": "Exclusive Provider Organization", "FF": "Family or Friends", "GP": "Group Policy",
    "HM": "Health Maintenance Organization (HMO)", "HN": "Health Maintenance Organization (HMO) - Medicare Risk",
    "HS": "Special Low Income Medicare Beneficiary", "IN": "Indemnity", "IP": "Individual Policy",
    "LC": "Long Term Care", "LD": "Long Term Policy", "LI": "Life Insurance", "LT": "Litigation",
    "MA": "Medicare Part A", "MB": "Medicare Part B", "MC": "Medicaid", "MH": "Medigap Part A",
    "MI": "Medigap Part B", "MP": "Medicare Primary", "OT": "Other", "PE": "Property Insurance - Personal",
    "PL": "Personal", "PP": "Personal Payment (Cash - No Insurance)",
    "PR": "Preferred Provider Organization (PPO)", "PS": "Point of Service (POS)",
    "QM": "Qualified Medicare Beneficiary", "RP": "Property Insurance - Real", "SP": "Supplemental Policy",
    "TF": "Tax Equity Fiscal Responsibility Act (TEFRA)", "WC": "Workers Compensation", "WU": "Wrap Up Policy",
}

# EB06 / HSD05 Time Period Qualifier (element 615). CODES (several parsers agree).
TIME_PERIOD = {
    "6": "Hour", "7": "Day", "13": "24 Hours", "21": "Years", "22": "Service Year", "23": "Calendar Year",
    "24": "Year to Date", "25": "Contract", "26": "Episode", "27": "Visit", "28": "Outlier", "29": "Remaining",
    "30": "Exceeded", "31": "Not Exceeded", "32": "Lifetime", "33": "Lifetime Remaining", "34": "Month",
    "35": "Week", "36": "Admission",
}

# EB09 Quantity Qualifier (element 673), the subset X279A1 allows. CODES.
QUANTITY_QUALIFIER = {
    "8H": "Minimum", "99": "Quantity Used", "CA": "Covered - Actual", "CE": "Covered - Estimated",
    "D3": "Number of Co-insurance Days", "DB": "Deductible Blood Units", "DY": "Days", "HS": "Hours",
    "LA": "Life-time Reserve - Actual", "LE": "Life-time Reserve - Estimated", "M2": "Maximum", "MN": "Month",
    "P6": "Number of Services or Procedures", "QA": "Quantity Approved", "S7": "Age, High Value",
    "S8": "Age, Low Value", "VS": "Visits", "YY": "Years",
}

# EB11 authorization/certification indicator and EB12 plan network indicator (element 1073). CODES; the
# meanings of Y/N/U for EB11/EB12 are the X12 semantic notes (an X12 004050 EB page restates them).
AUTH_INDICATOR = {"Y": "Authorization required", "N": "Authorization not required", "U": "Unknown"}
NETWORK_INDICATOR = {"Y": "In plan network", "N": "Out of plan network", "U": "Unknown",
                     "W": "Not applicable (applies regardless of network)"}
YES_NO = {"Y": "Yes", "N": "No"}

# AAA03 Reject Reason Code (element 901): the codes X279A1 uses. CODES (OpenDental X271, a Java enum, a PHP
# and a Go 271 reader and Stedi's 901 element page agree on these meanings). One public TypeScript table shifts
# 67-69 and calls 79 "Patient not eligible"; it disagrees with all the others and is ignored.
REJECT_REASON = {
    "04": "Authorized Quantity Exceeded",
    "15": "Required application data missing",
    "33": "Input Errors",
    "35": "Out of Network",
    "41": "Authorization/Access Restrictions",
    "42": "Unable to Respond at Current Time",
    "43": "Invalid/Missing Provider Identification",
    "44": "Invalid/Missing Provider Name",
    "45": "Invalid/Missing Provider Specialty",
    "46": "Invalid/Missing Provider Phone Number",
    "47": "Invalid/Missing Provider State",
    "48": "Invalid/Missing Referring Provider Identification Number",
    "49": "Provider is Not Primary Care Physician",
    "50": "Provider Ineligible for Inquiries",
    "51": "Provider Not on File",
    "52": "Service Dates Not Within Provider Plan Enrollment",
    "53": "Inquired Benefit Inconsistent with Provider Type",
    "54": "Inappropriate Product/Service ID Qualifier",
    "55": "Inappropriate Product/Service ID",
    "56": "Inappropriate Date",
    "57": "Invalid/Missing Date(s) of Service",
    "58": "Invalid/Missing Date-of-Birth",
    "60": "Date of Birth Follows Date(s) of Service",
    "61": "Date of Death Precedes Date(s) of Service",
    "62": "Date of Service Not Within Allowable Inquiry Period",
    "63": "Date of Service in Future",
    "64": "Invalid/Missing Patient ID",
    "65": "Invalid/Missing Patient Name",
    "66": "Invalid/Missing Patient Gender Code",
    "67": "Patient Not Found",
    "68": "Duplicate Patient ID Number",
    "69": "Inconsistent with Patient's Age",
    "70": "Inconsistent with Patient's Gender",
    "71": "Patient Birth Date Does Not Match That for the Patient on the Database",
    "72": "Invalid/Missing Subscriber/Insured ID",
    "73": "Invalid/Missing Subscriber/Insured Name",
    "74": "Invalid/Missing Subscriber/Insured Gender Code",
    "75": "Subscriber/Insured Not Found",
    "76": "Duplicate Subscriber/Insured ID Number",
    "77": "Subscriber Found, Patient Not Found",
    "78": "Subscriber/Insured Not in Group/Plan Identified",
    "79": "Invalid Participant Identification",
    "80": "No Response received - Transaction Terminated",
    "97": "Invalid or Missing Provider Address",
    "98": "Experimental Service or Procedure",
    "AA": "Authorization Number Not Found",
    "AE": "Requires Primary Care Physician Authorization",
    "AF": "Invalid/Missing Diagnosis Code(s)",
    "AG": "Invalid/Missing Procedure Code(s)",
    "AO": "Additional Patient Condition Information Required",
    "CI": "Certification Information Does Not Match Patient",
    "E8": "Requires Medical Review",
    "IA": "Invalid Authorization Number Format",
    "MA": "Missing Authorization Number",
    "T4": "Payer Name or Identifier Missing",
}

# Which reject reasons the TR3 lists at each loop. MEM (U): recalled, not confirmed in this session, so a code
# outside the loop's list is only a warning (the code must still be in REJECT_REASON).
REJECT_REASON_BY_LOOP = {
    "2000A": ("04", "41", "42", "79", "80", "T4"),
    "2100A": ("04", "41", "42", "79", "80", "T4"),
    "2100B": ("15", "41", "43", "44", "45", "46", "47", "48", "50", "51", "79", "97", "T4"),
    "2100C": ("15", "35", "42", "43", "45", "47", "48", "49", "51", "52", "56", "57", "58", "60", "61", "62",
              "63", "69", "70", "71", "72", "73", "74", "75", "76", "78", "98", "AA", "AE", "AF", "AG", "AO",
              "CI", "E8", "IA", "MA"),
    "2110C": ("15", "33", "52", "53", "54", "55", "56", "57", "60", "61", "62", "63", "69", "70", "98", "AA",
              "AE", "AF", "AG", "AO", "CI", "E8", "IA", "MA"),
    "2100D": ("15", "35", "42", "43", "45", "47", "48", "49", "51", "52", "56", "57", "58", "60", "61", "62",
              "63", "64", "65", "66", "67", "68", "69", "70", "71", "77", "98", "AA", "AE", "AF", "AG", "AO",
              "CI", "E8", "IA", "MA"),
    "2110D": ("15", "33", "52", "53", "54", "55", "56", "57", "60", "61", "62", "63", "69", "70", "98", "AA",
              "AE", "AF", "AG", "AO", "CI", "E8", "IA", "MA"),
}
REJECT_REASON_BY_LOOP_VERIFIED = False

# AAA04 Follow-up Action Code (element 889). CODES: five public readers agree (S = inquiry initiated to a
# third party; Y = we will hold your request); one TypeScript table swaps S and Y and is ignored.
FOLLOW_UP_ACTION = {
    "C": "Please Correct and Resubmit",
    "N": "Resubmission Not Allowed",
    "P": "Please Resubmit Original Transaction",
    "R": "Resubmission Allowed",
    "S": "Do Not Resubmit; Inquiry Initiated to a Third Party",
    "W": "Please Wait 30 Days and Resubmit",
    "X": "Please Wait 10 Days and Resubmit",
    "Y": "Do Not Resubmit; We Will Hold Your Request and Respond Again Shortly",
}

# NM101 Entity Identifier Code (element 98), by loop. TR3 for PR/1P/FA/IL/03 at 2100A-D (Stedi guides and the
# chiapas-edi 5010 270 map list 2B/36/GP/P5/PR for 2100A); CODES for 2120C meanings.
ENTITY_IDENTIFIER = {
    "03": "Dependent", "13": "Contracted Service Provider", "1I": "Preferred Provider Organization (PPO)",
    "1P": "Provider", "2B": "Third-Party Administrator", "36": "Employer", "73": "Other Physician",
    "80": "Hospital", "FA": "Facility", "GP": "Gateway Provider", "GW": "Group", "I3": "Independent Physicians Association (IPA)",
    "IL": "Insured or Subscriber", "LR": "Legal Representative", "P3": "Primary Care Provider",
    "P4": "Prior Insurance Carrier", "P5": "Plan Sponsor", "PR": "Payer", "PRP": "Primary Payer",
    "SEP": "Secondary Payer", "TTP": "Tertiary Payer", "VER": "Party Performing Verification", "VN": "Vendor",
    "VY": "Organization Completing Configuration Change", "X3": "Utilization Management Organization",
    "Y2": "Managed Care Organization",
}
NM101_2100A = ("2B", "36", "GP", "P5", "PR")  # TR3 (chiapas-edi 5010 270 map; Stedi 270/271 guides)
NM101_2100B = ("1P", "2B", "36", "80", "FA", "GP", "P5", "PR")  # TR3 for 1P/FA; others MEM
NM101_2120 = ("13", "1I", "1P", "2B", "36", "73", "FA", "GP", "GW", "I3", "IL", "LR", "P3", "P4", "P5", "PR",
              "PRP", "SEP", "TTP", "VER", "VN", "VY", "X3", "Y2")  # CODES meanings; list membership MEM

ENTITY_TYPE = {"1": "Person", "2": "Non-Person Entity"}  # NM102 (TR3)
# NM108 Identification Code Qualifier (element 66). TR3 for PI (payer id), XX (NPI), MI (member id); the
# others CODES.
ID_QUALIFIER = {
    "24": "Employer's Identification Number", "34": "Social Security Number", "46": "Electronic Transmitter Identification Number (ETIN)",
    "FA": "Facility Identification", "FI": "Federal Taxpayer's Identification Number", "II": "Standard Unique Health Identifier for each Individual in the United States",
    "MI": "Member Identification Number", "NI": "National Association of Insurance Commissioners (NAIC) Identification",
    "PI": "Payor Identification", "PP": "Pharmacy Processor Number", "SV": "Service Provider Number",
    "XV": "Centers for Medicare and Medicaid Services PlanID", "XX": "Centers for Medicare and Medicaid Services National Provider Identifier",
}

# REF01 Reference Identification Qualifier (element 128), subset seen in 2100B/2100C/2110C. CODES.
REF_QUALIFIER = {
    "0B": "State License Number", "18": "Plan Number", "1L": "Group or Policy Number",
    "1W": "Member Identification Number", "1J": "Facility ID Number", "3H": "Case Number", "49": "Family Unit Number",
    "4A": "Personal Identification Number (PIN)", "6P": "Group Number", "9F": "Referral Number",
    "A6": "Employee Identification Number", "CT": "Contract Number", "EA": "Medical Record Identification Number",
    "EI": "Employer's Identification Number", "EJ": "Patient Account Number", "EL": "Electronic device pin number",
    "EO": "Submitter Identification Number", "F6": "Health Insurance Claim (HIC) Number", "G1": "Prior Authorization Number",
    "GH": "Identification Card Serial Number", "HJ": "Identity Card Number", "HPI": "CMS National Provider Identifier",
    "IF": "Issue Number", "IG": "Insurance Policy Number", "JD": "User Identification", "M7": "Medical Assistance Category",
    "MRC": "Eligibility Category", "N5": "Provider Plan Network Identification Number", "N6": "Plan Network Identification Number",
    "N7": "Facility Network Identification Number", "NQ": "Medicaid Recipient Identification Number",
    "PXC": "Health Care Provider Taxonomy Code", "Q4": "Prior Identifier Number", "SY": "Social Security Number",
    "TJ": "Federal Taxpayer's Identification Number", "Y4": "Agency Claim Number", "ALS": "Alternative List ID",
    "CLI": "Coverage List ID", "FO": "Drug Formulary Number", "IW": "Supplemental Coverage Number",
}

# DTP01 Date/Time Qualifier (element 374). 270: 291 at 2100C/2110C (date of service / plan date) (TR3). 271:
# CODES (Python 271 parser list) + 102/152/382/442/539/540 MEM.
DTP_QUALIFIER = {
    "096": "Discharge", "102": "Issue", "152": "Effective Date of Change", "193": "Period Start",
    "194": "Period End", "198": "Completion", "290": "Coordination of Benefits", "291": "Plan", "292": "Benefit",
    "295": "Primary Care Provider", "304": "Latest Visit or Consultation", "307": "Eligibility", "318": "Added",
    "340": "COBRA Begin", "341": "COBRA End", "342": "Premium Paid to Date Begin", "343": "Premium Paid to Date End",
    "346": "Plan Begin", "347": "Plan End", "348": "Benefit Begin", "349": "Benefit End", "356": "Eligibility Begin",
    "357": "Eligibility End", "382": "Enrollment", "435": "Admission", "442": "Date of Death", "458": "Certification",
    "472": "Service", "539": "Policy Effective", "540": "Policy Expiration", "636": "Date of Last Update",
    "771": "Status",
}
DTP_QUALIFIER_270 = ("291", "307", "435", "472")  # 291 is what Stepdown sends (TR3); 307/435/472 MEM
DATE_FORMAT = {"D8": "Date CCYYMMDD", "RD8": "Range of dates CCYYMMDD-CCYYMMDD"}  # TR3

GENDER = {"F": "Female", "M": "Male", "U": "Unknown"}  # DMG03 (TR3)
# INS02 Individual Relationship Code (element 1069). 18 Self at 2100C; 01/19/34 at 2100D (TR3 via clearinghouse
# companion guides; MEM for the 271 list).
RELATIONSHIP = {"18": "Self", "01": "Spouse", "19": "Child", "34": "Other Adult"}
DEPENDENT_RELATIONSHIPS = ("01", "19", "34")
# INS03 Maintenance Type Code 001 "Change" and INS04 Maintenance Reason Code 25 "Change in Identifying Data
# Elements" appear when the payer corrects the subscriber's identifying data (271; MEM).
MAINTENANCE_TYPE = {"001": "Change"}
MAINTENANCE_REASON = {"25": "Change in Identifying Data Elements"}

# PRV01 Provider Code (element 1221). MEM.
PROVIDER_CODE = {
    "AD": "Admitting", "AT": "Attending", "BI": "Billing", "CO": "Consulting", "CV": "Covering", "H": "Hospital",
    "HH": "Home Health Care", "LA": "Laboratory", "OT": "Other Physician", "P1": "Pharmacist", "P2": "Pharmacy",
    "PC": "Primary Care Physician", "PE": "Performing", "R": "Rural Health Clinic", "RF": "Referring",
    "SB": "Submitting", "SK": "Skilled Nursing Facility", "SU": "Supervising",
}

# PER03/05/07 Communication Number Qualifier (element 365). CODES.
COMMUNICATION_QUALIFIER = {"ED": "EDI Access Number", "EM": "Electronic Mail", "FX": "Facsimile",
                           "TE": "Telephone", "UR": "Uniform Resource Locator (URL)", "EX": "Telephone Extension",
                           "WP": "Work Phone Number"}

# HSD01 Quantity Qualifier / HSD03 Unit or Basis for Measurement. MEM (lenient: warnings only).
HSD_QUANTITY_QUALIFIER = {"DY": "Days", "FL": "Units", "HS": "Hours", "MN": "Month", "VS": "Visits"}
HSD_UNIT = {"DA": "Days", "MO": "Months", "VS": "Visit", "WK": "Week", "YR": "Years"}

HL_LEVEL = {"20": "Information Source", "21": "Information Receiver", "22": "Subscriber", "23": "Dependent"}  # TR3
TRACE_TYPE = {"1": "Current Transaction Trace Numbers", "2": "Referenced Transaction Trace Numbers"}  # TR3

# ----------------------------------------------------------------------------------------------------------
# Segment and loop definitions.
# ----------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ElementSpec:
    position: int
    name: str
    usage: str  # R / S / N
    dtype: str  # AN ID DT TM N0 R
    min_len: int
    max_len: int
    codes: dict[str, str] | None = None
    repeat: int = 1
    components: tuple[ElementSpec, ...] | None = None
    allowed: tuple[str, ...] | None = None  # a narrower set than ``codes`` at this place (error when outside)
    expected: tuple[str, ...] | None = None  # a narrower set that is only MEM: outside -> warning
    lenient_codes: bool = False  # unknown code -> warning instead of error (code list not verified/complete)
    verified: bool = True


@dataclass(frozen=True)
class SegmentSpec:
    tag: str
    name: str
    elements: tuple[ElementSpec, ...]
    # Relational rules: ("paired", a, b): both or neither; ("date_by_qualifier", fmt_pos, value_pos).
    rules: tuple[tuple, ...] = ()
    source: str = "TR3"
    verified: bool = True

    def element(self, position: int) -> ElementSpec | None:
        for e in self.elements:
            if e.position == position:
                return e
        return None


@dataclass(frozen=True)
class SegmentUse:
    spec: SegmentSpec
    usage: str  # R / S
    max_use: int = 1

    @property
    def tag(self) -> str:
        return self.spec.tag


@dataclass(frozen=True)
class LoopSpec:
    loop_id: str
    name: str
    usage: str
    max_repeat: int
    # The first segment of the loop: tag, and optionally (element position, accepted values).
    trigger_tag: str
    trigger_position: int | None = None
    trigger_values: tuple[str, ...] = ()
    items: tuple[SegmentUse | LoopSpec, ...] = field(default_factory=tuple)

    def matches(self, seg) -> bool:
        if seg.tag != self.trigger_tag:
            return False
        if self.trigger_position is None:
            return True
        return seg.get(self.trigger_position) in self.trigger_values


def E(position, name, usage, dtype, min_len, max_len, codes=None, **kw) -> ElementSpec:
    return ElementSpec(position, name, usage, dtype, min_len, max_len, codes, **kw)


UNBOUNDED = 10**9

# --- Envelope (TR3 appendix B; Stedi guide headers) ---------------------------------------------------------
ISA = SegmentSpec("ISA", "Interchange Control Header", (
    E(1, "Authorization Information Qualifier", "R", "ID", 2, 2, {"00": "No Authorization Information Present", "03": "Additional Data Identification"}),
    E(2, "Authorization Information", "R", "AN", 10, 10),
    E(3, "Security Information Qualifier", "R", "ID", 2, 2, {"00": "No Security Information Present", "01": "Password"}),
    E(4, "Security Information", "R", "AN", 10, 10),
    E(5, "Interchange ID Qualifier (sender)", "R", "ID", 2, 2, {"01": "Duns", "14": "Duns Plus Suffix", "20": "Health Industry Number", "27": "Carrier Identification Number", "28": "Fiscal Intermediary Identification Number", "29": "Medicare Provider and Supplier Identification Number", "30": "U.S. Federal Tax Identification Number", "33": "NAIC Company Code", "ZZ": "Mutually Defined"}),
    E(6, "Interchange Sender ID", "R", "AN", 15, 15),
    E(7, "Interchange ID Qualifier (receiver)", "R", "ID", 2, 2, {"01": "Duns", "14": "Duns Plus Suffix", "20": "Health Industry Number", "27": "Carrier Identification Number", "28": "Fiscal Intermediary Identification Number", "29": "Medicare Provider and Supplier Identification Number", "30": "U.S. Federal Tax Identification Number", "33": "NAIC Company Code", "ZZ": "Mutually Defined"}),
    E(8, "Interchange Receiver ID", "R", "AN", 15, 15),
    E(9, "Interchange Date", "R", "DT", 6, 6),
    E(10, "Interchange Time", "R", "TM", 4, 4),
    E(11, "Repetition Separator", "R", "AN", 1, 1),
    E(12, "Interchange Control Version Number", "R", "ID", 5, 5, {INTERCHANGE_VERSION: "5010"}),
    E(13, "Interchange Control Number", "R", "N0", 9, 9),
    E(14, "Acknowledgment Requested", "R", "ID", 1, 1, {"0": "No", "1": "Yes"}),
    E(15, "Interchange Usage Indicator", "R", "ID", 1, 1, {"P": "Production", "T": "Test"}),
    E(16, "Component Element Separator", "R", "AN", 1, 1),
))
GS = SegmentSpec("GS", "Functional Group Header", (
    E(1, "Functional Identifier Code", "R", "ID", 2, 2, {"HS": "Eligibility Inquiry (270)", "HB": "Eligibility Response (271)"}),
    E(2, "Application Sender's Code", "R", "AN", 2, 15),
    E(3, "Application Receiver's Code", "R", "AN", 2, 15),
    E(4, "Date", "R", "DT", 8, 8),
    E(5, "Time", "R", "TM", 4, 8),
    E(6, "Group Control Number", "R", "N0", 1, 9),
    E(7, "Responsible Agency Code", "R", "ID", 1, 2, {"X": "Accredited Standards Committee X12"}),
    E(8, "Version / Release / Industry Identifier Code", "R", "AN", 1, 12, {IMPLEMENTATION_GUIDE: "Eligibility 5010"}),
))
GE = SegmentSpec("GE", "Functional Group Trailer", (
    E(1, "Number of Transaction Sets Included", "R", "N0", 1, 6),
    E(2, "Group Control Number", "R", "N0", 1, 9),
))
IEA = SegmentSpec("IEA", "Interchange Control Trailer", (
    E(1, "Number of Included Functional Groups", "R", "N0", 1, 5),
    E(2, "Interchange Control Number", "R", "N0", 9, 9),
))


def _st(code: str) -> SegmentSpec:
    return SegmentSpec("ST", "Transaction Set Header", (
        E(1, "Transaction Set Identifier Code", "R", "ID", 3, 3, {code: f"Eligibility {code}"}),
        E(2, "Transaction Set Control Number", "R", "AN", 4, 9),
        E(3, "Implementation Convention Reference", "R", "AN", 1, 35, {IMPLEMENTATION_GUIDE: "X279A1"}),
    ))


SE = SegmentSpec("SE", "Transaction Set Trailer", (
    E(1, "Number of Included Segments", "R", "N0", 1, 10),
    E(2, "Transaction Set Control Number", "R", "AN", 4, 9),
))

# BHT: 0022 structure; 270 purpose 13 Request (01 Cancellation with BHT06 RT/RU); 271 11 Response / 06
# Confirmation. BHT03 1-50; BHT04 CCYYMMDD; BHT05 HHMM[SS[DD]] 4-8 (TR3 via emrpms 5010 270 notes; eedi 4010
# 271 page for the 271 purpose codes; 06 MEM).
BHT_270 = SegmentSpec("BHT", "Beginning of Hierarchical Transaction", (
    E(1, "Hierarchical Structure Code", "R", "ID", 4, 4, {"0022": "Information Source, Information Receiver, Subscriber, Dependent"}),
    E(2, "Transaction Set Purpose Code", "R", "ID", 2, 2, {"01": "Cancellation", "13": "Request"}),
    E(3, "Submitter Transaction Identifier", "R", "AN", 1, 50),
    E(4, "Transaction Set Creation Date", "R", "DT", 8, 8),
    E(5, "Transaction Set Creation Time", "R", "TM", 4, 8),
    E(6, "Transaction Type Code", "S", "ID", 2, 2, {"RT": "Spend Down", "RU": "Medical Services Reservation"}, verified=False),
))
BHT_271 = SegmentSpec("BHT", "Beginning of Hierarchical Transaction", (
    E(1, "Hierarchical Structure Code", "R", "ID", 4, 4, {"0022": "Information Source, Information Receiver, Subscriber, Dependent"}),
    E(2, "Transaction Set Purpose Code", "R", "ID", 2, 2, {"06": "Confirmation", "11": "Response"}),
    E(3, "Submitter Transaction Identifier", "S", "AN", 1, 50),
    E(4, "Transaction Set Creation Date", "R", "DT", 8, 8),
    E(5, "Transaction Set Creation Time", "R", "TM", 4, 8),
))


def _hl(level: str, parent: bool) -> SegmentSpec:
    return SegmentSpec("HL", f"Hierarchical Level ({HL_LEVEL[level]})", (
        E(1, "Hierarchical ID Number", "R", "AN", 1, 12),
        E(2, "Hierarchical Parent ID Number", "R" if parent else "N", "AN", 1, 12),
        E(3, "Hierarchical Level Code", "R", "ID", 1, 2, HL_LEVEL, allowed=(level,)),
        E(4, "Hierarchical Child Code", "R", "ID", 1, 1, {"0": "No subordinate HL", "1": "Has subordinate HL"}),
    ))


def _nm1(loop: str, entity_codes: tuple[str, ...], *, person_only: bool = False, id_required: bool = False,
         id_qualifiers: tuple[str, ...] | None = None, verified: bool = True) -> SegmentSpec:
    return SegmentSpec("NM1", f"Individual or Organizational Name ({loop})", (
        E(1, "Entity Identifier Code", "R", "ID", 2, 3, ENTITY_IDENTIFIER, allowed=entity_codes),
        E(2, "Entity Type Qualifier", "R", "ID", 1, 1, ENTITY_TYPE, allowed=("1",) if person_only else None),
        E(3, "Name Last or Organization Name", "S", "AN", 1, 60),
        E(4, "Name First", "S", "AN", 1, 35),
        E(5, "Name Middle", "S", "AN", 1, 25),
        E(6, "Name Prefix", "N", "AN", 1, 10),
        E(7, "Name Suffix", "S", "AN", 1, 10),
        E(8, "Identification Code Qualifier", "R" if id_required else "S", "ID", 1, 2, ID_QUALIFIER, allowed=id_qualifiers),
        E(9, "Identification Code", "R" if id_required else "S", "AN", 2, 80),
        E(10, "Entity Relationship Code", "N", "ID", 2, 2),
        E(11, "Entity Identifier Code", "N", "ID", 2, 3),
        E(12, "Name Last or Organization Name", "N", "AN", 1, 60),
    ), rules=(("paired", 8, 9),), verified=verified)


NM1_2100A = _nm1("2100A", NM101_2100A, id_required=True, id_qualifiers=("24", "46", "FI", "NI", "PI", "XV"))
NM1_2100B = _nm1("2100B", NM101_2100B, id_required=True, id_qualifiers=("24", "34", "FI", "PI", "SV", "XV", "XX"))
NM1_2100C = _nm1("2100C", ("IL",), person_only=True, id_qualifiers=("II", "MI"))
NM1_2100D = _nm1("2100D", ("03",), person_only=True)
NM1_2120 = _nm1("2120", NM101_2120, verified=False)

REF = SegmentSpec("REF", "Reference Identification", (
    E(1, "Reference Identification Qualifier", "R", "ID", 2, 3, REF_QUALIFIER, lenient_codes=True),
    E(2, "Reference Identification", "R", "AN", 1, 50),
    E(3, "Description", "S", "AN", 1, 80),
))
N3 = SegmentSpec("N3", "Address Information", (
    E(1, "Address Information", "R", "AN", 1, 55),
    E(2, "Address Information", "S", "AN", 1, 55),
))
N4 = SegmentSpec("N4", "Geographic Location", (
    E(1, "City Name", "R", "AN", 2, 30),
    E(2, "State or Province Code", "S", "ID", 2, 2),
    E(3, "Postal Code", "S", "ID", 3, 15),
    E(4, "Country Code", "S", "ID", 2, 3),
    E(5, "Location Qualifier", "N", "ID", 1, 2),
    E(6, "Location Identifier", "N", "AN", 1, 30),
    E(7, "Country Subdivision Code", "S", "ID", 1, 3),
))
PRV = SegmentSpec("PRV", "Provider Information", (
    E(1, "Provider Code", "R", "ID", 1, 3, PROVIDER_CODE, lenient_codes=True),
    E(2, "Reference Identification Qualifier", "R", "ID", 2, 3, {"PXC": "Health Care Provider Taxonomy Code"}),
    E(3, "Reference Identification", "R", "AN", 1, 50),
), verified=False)
PER = SegmentSpec("PER", "Administrative Communications Contact", (
    E(1, "Contact Function Code", "R", "ID", 2, 2, {"IC": "Information Contact"}),
    E(2, "Name", "S", "AN", 1, 60),
    E(3, "Communication Number Qualifier", "S", "ID", 2, 2, COMMUNICATION_QUALIFIER),
    E(4, "Communication Number", "S", "AN", 1, 256),
    E(5, "Communication Number Qualifier", "S", "ID", 2, 2, COMMUNICATION_QUALIFIER),
    E(6, "Communication Number", "S", "AN", 1, 256),
    E(7, "Communication Number Qualifier", "S", "ID", 2, 2, COMMUNICATION_QUALIFIER),
    E(8, "Communication Number", "S", "AN", 1, 256),
), rules=(("paired", 3, 4), ("paired", 5, 6), ("paired", 7, 8)))
# TRN: 270 TRN01 = 1 (the receiver's own trace); 271 returns it with TRN01 = 2 and may add its own with 1.
# TRN03 is a 10-character originating company id ("1" + EIN or "9" + assigned id). TR3 (Stedi 271 sample).
TRN = SegmentSpec("TRN", "Subscriber Trace Number", (
    E(1, "Trace Type Code", "R", "ID", 1, 2, TRACE_TYPE),
    E(2, "Reference Identification (trace number)", "R", "AN", 1, 50),
    E(3, "Originating Company Identifier", "R", "AN", 10, 10),
    E(4, "Reference Identification (division)", "S", "AN", 1, 50),
))
DMG = SegmentSpec("DMG", "Demographic Information", (
    E(1, "Date Time Period Format Qualifier", "R", "ID", 2, 3, {"D8": "Date CCYYMMDD"}),
    E(2, "Date of Birth", "R", "DT", 8, 8),
    E(3, "Gender Code", "S", "ID", 1, 1, GENDER),
), rules=(("date_by_qualifier", 1, 2),))
INS_270_SUB = SegmentSpec("INS", "Multiple Birth Sequence Number / Relationship", (
    E(1, "Insured Indicator", "R", "ID", 1, 1, YES_NO, allowed=("Y",)),
    E(2, "Individual Relationship Code", "R", "ID", 2, 2, RELATIONSHIP, allowed=("18",)),
    *(E(p, f"INS{p:02d}", "N", "AN", 1, 30) for p in range(3, 17)),
    E(17, "Birth Sequence Number", "S", "N0", 1, 9),
), verified=False)
INS_270_DEP = SegmentSpec("INS", "Dependent Relationship", (
    E(1, "Insured Indicator", "R", "ID", 1, 1, YES_NO, allowed=("N",)),
    E(2, "Individual Relationship Code", "R", "ID", 2, 2, RELATIONSHIP, allowed=DEPENDENT_RELATIONSHIPS),
    *(E(p, f"INS{p:02d}", "N", "AN", 1, 30) for p in range(3, 17)),
    E(17, "Birth Sequence Number", "S", "N0", 1, 9),
), verified=False)
INS_271 = SegmentSpec("INS", "Relationship", (
    E(1, "Insured Indicator", "R", "ID", 1, 1, YES_NO),
    E(2, "Individual Relationship Code", "R", "ID", 2, 2, RELATIONSHIP, lenient_codes=True),
    E(3, "Maintenance Type Code", "S", "ID", 3, 3, MAINTENANCE_TYPE, lenient_codes=True),
    E(4, "Maintenance Reason Code", "S", "ID", 2, 3, MAINTENANCE_REASON, lenient_codes=True),
    *(E(p, f"INS{p:02d}", "S", "AN", 1, 30) for p in range(5, 17)),
    E(17, "Birth Sequence Number", "S", "N0", 1, 9),
), verified=False)
HI = SegmentSpec("HI", "Health Care Diagnosis Code", tuple(
    E(p, f"Health Care Code Information {p}", "S" if p > 1 else "R", "AN", 1, 40,
      components=(E(1, "Code List Qualifier Code", "R", "ID", 1, 3, {"ABK": "ICD-10-CM Principal", "ABF": "ICD-10-CM", "BK": "ICD-9-CM Principal", "BF": "ICD-9-CM"}, lenient_codes=True),
                  E(2, "Industry Code", "R", "AN", 1, 30)))
    for p in range(1, 9)
), verified=False)
MPI = SegmentSpec("MPI", "Military Personnel Information", tuple(
    E(p, f"MPI{p:02d}", "S", "AN", 1, 80) for p in range(1, 8)
), verified=False)


def _dtp(qualifiers: tuple[str, ...] | None) -> SegmentSpec:
    return SegmentSpec("DTP", "Date or Time or Period", (
        E(1, "Date/Time Qualifier", "R", "ID", 3, 3, DTP_QUALIFIER, allowed=qualifiers),
        E(2, "Date Time Period Format Qualifier", "R", "ID", 2, 3, DATE_FORMAT),
        E(3, "Date Time Period", "R", "AN", 1, 35),
    ), rules=(("date_by_qualifier", 2, 3),))


DTP_270 = _dtp(DTP_QUALIFIER_270)
DTP_271 = _dtp(None)


def _aaa(loop: str) -> SegmentSpec:
    # AAA01 Y/N valid request; AAA02 not used; AAA03 reject reason; AAA04 follow-up action (TR3; Stedi blog
    # "AAA eligibility errors in plain English" for the loop placement).
    return SegmentSpec("AAA", f"Request Validation ({loop})", (
        E(1, "Valid Request Indicator", "R", "ID", 1, 1, YES_NO),
        E(2, "Agency Qualifier Code", "N", "ID", 2, 2),
        E(3, "Reject Reason Code", "R", "ID", 2, 2, REJECT_REASON, expected=REJECT_REASON_BY_LOOP.get(loop)),
        E(4, "Follow-up Action Code", "R", "ID", 1, 1, FOLLOW_UP_ACTION),
    ))


# EQ (270 2110C/2110D). EQ01 service type, repeats up to 99 in 5010 (Stedi 004050+ EQ pages show the repeat;
# CLIN8 §8a "5010 allows repetitions"); EQ02 composite procedure; EQ03 coverage level MEM; EQ05 diagnosis
# pointer. X12 syntax: at least one of EQ01/EQ02.
C003 = (
    E(1, "Product/Service ID Qualifier", "R", "ID", 2, 2, {"AD": "American Dental Association Codes", "CJ": "Current Procedural Terminology (CPT) Codes", "HC": "Health Care Financing Administration Common Procedural Coding System (HCPCS) Codes", "ID": "International Classification of Diseases, 9th Revision, Clinical Modification (ICD-9-CM) - Procedure", "IV": "Home Infusion EDI Coalition (HIEC) Product/Service Code", "N4": "National Drug Code in 5-4-2 Format", "ZZ": "Mutually Defined"}),
    E(2, "Procedure Code", "R", "AN", 1, 48),
    E(3, "Procedure Modifier", "S", "AN", 2, 2),
    E(4, "Procedure Modifier", "S", "AN", 2, 2),
    E(5, "Procedure Modifier", "S", "AN", 2, 2),
    E(6, "Procedure Modifier", "S", "AN", 2, 2),
    E(7, "Description", "N", "AN", 1, 80),
    E(8, "Product/Service ID", "N", "AN", 1, 48),
)
C004 = tuple(E(p, f"Diagnosis Code Pointer {p}", "R" if p == 1 else "S", "N0", 1, 2) for p in range(1, 5))
EQ = SegmentSpec("EQ", "Eligibility or Benefit Inquiry", (
    E(1, "Service Type Code", "S", "ID", 1, 2, SERVICE_TYPES, repeat=99),
    E(2, "Composite Medical Procedure Identifier", "S", "AN", 1, 80, components=C003),
    E(3, "Coverage Level Code", "S", "ID", 3, 3, COVERAGE_LEVEL, verified=False),
    E(4, "Insurance Type Code", "N", "ID", 1, 3),
    E(5, "Composite Diagnosis Code Pointer", "S", "AN", 1, 11, components=C004),
), rules=(("at_least_one", 1, 2),))

# EB (271 2110C/2110D). Element list, types and lengths: TR3 / X12 EB segment (kasoftware 00403 EB page for
# types/lengths, an X12 004050 EB page for the EB11/EB12 semantics). EB03 repeats up to 99 in 5010 (TR3).
EB = SegmentSpec("EB", "Eligibility or Benefit Information", (
    E(1, "Eligibility or Benefit Information Code", "R", "ID", 1, 2, EB01),
    E(2, "Coverage Level Code", "S", "ID", 3, 3, COVERAGE_LEVEL),
    E(3, "Service Type Code", "S", "ID", 1, 2, SERVICE_TYPES, repeat=99),
    E(4, "Insurance Type Code", "S", "ID", 1, 3, INSURANCE_TYPE),
    E(5, "Plan Coverage Description", "S", "AN", 1, 50),
    E(6, "Time Period Qualifier", "S", "ID", 1, 2, TIME_PERIOD),
    E(7, "Benefit Amount", "S", "R", 1, 18),
    E(8, "Benefit Percent", "S", "R", 1, 10),
    E(9, "Quantity Qualifier", "S", "ID", 2, 2, QUANTITY_QUALIFIER),
    E(10, "Benefit Quantity", "S", "R", 1, 15),
    E(11, "Authorization or Certification Indicator", "S", "ID", 1, 1, AUTH_INDICATOR),
    E(12, "In Plan Network Indicator", "S", "ID", 1, 1, NETWORK_INDICATOR),
    E(13, "Composite Medical Procedure Identifier", "S", "AN", 1, 80, components=C003),
    E(14, "Composite Diagnosis Code Pointer", "S", "AN", 1, 11, components=C004),
), rules=(("paired", 9, 10), ("percent_0_1", 8)))
HSD = SegmentSpec("HSD", "Health Care Services Delivery", (
    E(1, "Quantity Qualifier", "S", "ID", 2, 2, HSD_QUANTITY_QUALIFIER, lenient_codes=True),
    E(2, "Benefit Quantity", "S", "R", 1, 15),
    E(3, "Unit or Basis for Measurement Code", "S", "ID", 2, 2, HSD_UNIT, lenient_codes=True),
    E(4, "Sample Selection Modulus", "S", "R", 1, 6),
    E(5, "Time Period Qualifier", "S", "ID", 1, 2, TIME_PERIOD),
    E(6, "Period Count", "S", "N0", 1, 3),
    E(7, "Delivery Frequency Code", "S", "ID", 1, 2),
    E(8, "Delivery Pattern Time Code", "S", "ID", 1, 1),
), rules=(("paired", 1, 2), ("paired", 5, 6)), verified=False)
MSG = SegmentSpec("MSG", "Message Text", (
    E(1, "Free-form Message Text", "R", "AN", 1, 264),
    E(2, "Printer Carriage Control Code", "N", "ID", 2, 2),
    E(3, "Number", "N", "N0", 1, 9),
))
III = SegmentSpec("III", "Health Care Information Codes", tuple(
    E(p, f"III{p:02d}", "S", "AN", 1, 264) for p in range(1, 10)
), verified=False)
LS = SegmentSpec("LS", "Loop Header", (E(1, "Loop Identifier Code", "R", "AN", 1, 4, {"2120": "Loop 2120"}),))
LE = SegmentSpec("LE", "Loop Trailer", (E(1, "Loop Identifier Code", "R", "AN", 1, 4, {"2120": "Loop 2120"}),))
AMT = SegmentSpec("AMT", "Monetary Amount", (
    E(1, "Amount Qualifier Code", "R", "ID", 1, 3, {"R": "Spend Down", "PB": "Billed Amount"}, lenient_codes=True),
    E(2, "Monetary Amount", "R", "R", 1, 18),
), verified=False)

# --- Loop trees -----------------------------------------------------------------------------------------------


def S(spec: SegmentSpec, usage: str = "S", max_use: int = 1) -> SegmentUse:
    return SegmentUse(spec, usage, max_use)


def _loop_2120(suffix: str) -> LoopSpec:
    # 2120C/D Benefit Related Entity (TR3): NM1 R, N3, N4, PER (max 3), PRV; max 23 repetitions inside LS/LE.
    return LoopSpec(f"2120{suffix}", "Benefit Related Entity", "S", 23, "NM1", items=(
        S(NM1_2120, "R"), S(N3), S(N4), S(PER, max_use=3), S(PRV),
    ))


def _loop_2110_271(suffix: str) -> LoopSpec:
    return LoopSpec(f"2110{suffix}", "Eligibility or Benefit Information", "S", UNBOUNDED, "EB", items=(
        S(EB, "R"), S(HSD, max_use=9), S(REF, max_use=9), S(DTP_271, max_use=20), S(_aaa(f"2110{suffix}"), max_use=9),
        S(MSG, max_use=10),
        LoopSpec(f"2115{suffix}", "Eligibility or Benefit Additional Information", "S", 10, "III", items=(S(III, "R"),)),
        S(LS), _loop_2120(suffix), S(LE),
    ))


def _loop_2110_270(suffix: str) -> LoopSpec:
    return LoopSpec(f"2110{suffix}", "Eligibility or Benefit Inquiry", "S", 99, "EQ", items=(
        S(EQ, "R"), S(AMT, max_use=2), S(III, max_use=10), S(REF), S(DTP_270),
    ))


def _member_items_270(suffix: str, nm1: SegmentSpec, ins: SegmentSpec) -> tuple:
    return (S(nm1, "R"), S(REF, max_use=9), S(N3), S(N4), S(PRV), S(DMG), S(ins), S(HI), S(DTP_270, max_use=2),
            _loop_2110_270(suffix))


def _member_items_271(suffix: str, nm1: SegmentSpec) -> tuple:
    return (S(nm1, "R"), S(REF, max_use=9), S(N3), S(N4), S(_aaa(f"2100{suffix}"), max_use=9), S(PRV), S(DMG),
            S(INS_271), S(HI), S(DTP_271, max_use=9), S(MPI), _loop_2110_271(suffix))


TRANSACTION_270 = LoopSpec("270", "Eligibility, Coverage or Benefit Inquiry", "R", 1, "ST", items=(
    S(_st("270"), "R"), S(BHT_270, "R"),
    LoopSpec("2000A", "Information Source Level", "R", UNBOUNDED, "HL", 3, ("20",), items=(
        S(_hl("20", parent=False), "R"),
        LoopSpec("2100A", "Information Source Name", "R", 1, "NM1", items=(S(NM1_2100A, "R"),)),
        LoopSpec("2000B", "Information Receiver Level", "R", UNBOUNDED, "HL", 3, ("21",), items=(
            S(_hl("21", parent=True), "R"),
            LoopSpec("2100B", "Information Receiver Name", "R", 1, "NM1", items=(
                S(NM1_2100B, "R"), S(REF, max_use=9), S(N3), S(N4), S(PRV),
            )),
            LoopSpec("2000C", "Subscriber Level", "R", UNBOUNDED, "HL", 3, ("22",), items=(
                S(_hl("22", parent=True), "R"), S(TRN, max_use=2),
                LoopSpec("2100C", "Subscriber Name", "R", 1, "NM1", items=_member_items_270("C", NM1_2100C, INS_270_SUB)),
                LoopSpec("2000D", "Dependent Level", "S", UNBOUNDED, "HL", 3, ("23",), items=(
                    S(_hl("23", parent=True), "R"), S(TRN, max_use=2),
                    LoopSpec("2100D", "Dependent Name", "R", 1, "NM1", items=_member_items_270("D", NM1_2100D, INS_270_DEP)),
                )),
            )),
        )),
    )),
    S(SE, "R"),
))

TRANSACTION_271 = LoopSpec("271", "Eligibility, Coverage or Benefit Information", "R", 1, "ST", items=(
    S(_st("271"), "R"), S(BHT_271, "R"),
    LoopSpec("2000A", "Information Source Level", "R", UNBOUNDED, "HL", 3, ("20",), items=(
        S(_hl("20", parent=False), "R"), S(_aaa("2000A"), max_use=9),
        LoopSpec("2100A", "Information Source Name", "R", 1, "NM1", items=(
            S(NM1_2100A, "R"), S(PER, max_use=3), S(_aaa("2100A"), max_use=9),
        )),
        LoopSpec("2000B", "Information Receiver Level", "S", UNBOUNDED, "HL", 3, ("21",), items=(
            S(_hl("21", parent=True), "R"),
            LoopSpec("2100B", "Information Receiver Name", "R", 1, "NM1", items=(
                # N3/N4 here are MEM (lenient: allowed but not required).
                S(NM1_2100B, "R"), S(REF, max_use=9), S(N3), S(N4), S(_aaa("2100B"), max_use=9), S(PRV),
            )),
            LoopSpec("2000C", "Subscriber Level", "S", UNBOUNDED, "HL", 3, ("22",), items=(
                S(_hl("22", parent=True), "R"), S(TRN, max_use=3),
                LoopSpec("2100C", "Subscriber Name", "R", 1, "NM1", items=_member_items_271("C", NM1_2100C)),
                LoopSpec("2000D", "Dependent Level", "S", UNBOUNDED, "HL", 3, ("23",), items=(
                    S(_hl("23", parent=True), "R"), S(TRN, max_use=3),
                    LoopSpec("2100D", "Dependent Name", "R", 1, "NM1", items=_member_items_271("D", NM1_2100D)),
                )),
            )),
        )),
    )),
    S(SE, "R"),
))

ENVELOPE = {"ISA": ISA, "GS": GS, "GE": GE, "IEA": IEA}
FUNCTIONAL_ID = {"270": "HS", "271": "HB"}  # GS01 per transaction (TR3)
# fmt: on
